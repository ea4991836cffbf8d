/**
 * Password policy (NIST SP 800-63B style): length 10–128, not a commonly used
 * password, not trivially derived from the email, not one repeated character or
 * a keyboard/number run. No composition rules.
 */
const COMMON = new Set(
  `1234567890 0123456789 12345678910 1234567891 0987654321 9876543210 1111111111 0000000000 1122334455 1234512345
  qwertyuiop qwertyuiop123 asdfghjkl; 1qaz2wsx3edc qazwsxedc123 zaq12wsxcde 1q2w3e4r5t 1q2w3e4r5t6y q1w2e3r4t5 qwerty1234
  qwerty12345 qwerty123456 asdfghjkl1 zxcvbnm123 password12 password123 password1234 password12345 passw0rd12 p@ssw0rd12
  p@ssword123 password01 password99 password2024 password2025 password2026 passwordpassword iloveyou12 iloveyou123 iloveyou1234
  letmein123 letmein1234 welcome123 welcome1234 welcome2024 welcome2025 welcome2026 changeme123 changeme1234 administrator
  admin12345 admin123456 adminadmin admin2024! trustno1trustno1 football123 baseball123 basketball basketball1 superman123
  batman12345 princess123 sunshine123 starwars123 dragon12345 monkey12345 master12345 shadow12345 michael123 jennifer123
  1234qwerasdf abcdefghij abcdefghijk abc1234567 abcd123456 a123456789 aa12345678 qwertyqwerty 1qazxsw23edc iloveyouiloveyou
  computer12 internet12 samsung123 whatever12 chocolate1 butterfly1 liverpool1 elizabeth1 christopher christopher1 1234567890a
  11111111111 123123123123 12341234123 7777777777 5555555555 6666666666 8888888888 9999999999 123456789a 123456789q
  qwerty123! password1! password123! summer2024 summer2025 winter2024 winter2025 spring2025 autumn2025 correcthorsebatterystaple`.split(
    /\s+/,
  ),
);

const RUNS = ["0123456789012345678901234567890", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm"];

/** Returns the reasons a password is refused (empty when acceptable). */
export function passwordProblems(password: string, email: string): string[] {
  const problems: string[] = [];
  const p = password.normalize("NFKC");
  if ([...p].length < 10) problems.push("must be at least 10 characters");
  if ([...p].length > 128) problems.push("must be at most 128 characters");
  const lower = p.toLowerCase();
  if (COMMON.has(lower)) problems.push("is too common");
  if (/^(.)\1+$/u.test(p)) problems.push("must not be one repeated character");
  if (RUNS.some((run) => run.includes(lower) || [...run].reverse().join("").includes(lower)))
    problems.push("must not be a simple sequence");
  const local = email.split("@")[0] ?? "";
  if (local.length >= 4 && lower.includes(local)) problems.push("must not contain your email address");
  return problems;
}

/** Trim, NFKC, lower case: one account per mailbox however it is typed. */
export function normaliseEmail(email: string): string {
  return email.trim().normalize("NFKC").toLowerCase();
}
