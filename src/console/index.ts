export { consolePlugin } from "./plugin.js";
