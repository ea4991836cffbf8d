/** Entry of the admin console (served at /admin/ by Workers Static Assets; built by scripts/build-admin.ts). */
import { render } from "preact";
import "./styles.css";
import { App } from "./app.tsx";

const root = document.getElementById("app");
if (root) render(<App />, root);
