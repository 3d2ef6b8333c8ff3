// Everything the console takes from npm, re-exported from one ES module (vendor.js).
export { default as dagre } from "@dagrejs/dagre";
export { EditorView, basicSetup } from "codemirror";
export { json, jsonParseLinter } from "@codemirror/lang-json";
export { linter, lintGutter, setDiagnostics } from "@codemirror/lint";
export { EditorState } from "@codemirror/state";
