/** Base64 / base64url for byte arrays (WebCrypto output), in Workers and Node alike. */
export function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Throws on invalid input. */
export function fromB64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
}

export function b64url(bytes: Uint8Array): string {
  return b64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Throws on invalid input. */
export function fromB64url(s: string): Uint8Array {
  return fromB64(s.replaceAll("-", "+").replaceAll("_", "/"));
}
