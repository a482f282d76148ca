// Decide one case over HTTP/JSON (the Connect protocol) with Node's built-in fetch:
// no npm packages, no gRPC, no generated code.
//
//   node client_examples/node/decide.mjs [REQUEST.json]   (default: ../cases/decide_request.json)
//   CSE_HTTP=http://localhost:8080 node client_examples/node/decide.mjs
//
// Prints the decision as JSON on stdout. Exit codes: 0 decided; 2 the request was
// refused as invalid (each field violation printed on stderr as "field: description");
// 1 any other failure (server unreachable, timed out, ...).
import { readFile } from "node:fs/promises";

const SERVICE = "collection_strategy.v1.CollectionStrategyService";
const base = process.env.CSE_HTTP ?? "http://localhost:8080";
const file = process.argv[2] ?? new URL("../cases/decide_request.json", import.meta.url);

async function call(method, request, timeoutMs = 30000) {
  const response = await fetch(`${base}/${SERVICE}/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Connect-Timeout-Ms": String(timeoutMs) },
    body: JSON.stringify(request),
    signal: AbortSignal.timeout(timeoutMs + 1000),
  });
  const body = await response.json();
  if (!response.ok) {
    // A Connect error: {code, message, details: [{type, value, debug}]}
    const error = new Error(`${body.code}: ${body.message}`);
    error.code = body.code;
    error.violations = (body.details ?? [])
      .filter((detail) => detail.type === "google.rpc.BadRequest")
      .flatMap((detail) => detail.debug?.fieldViolations ?? []);
    throw error;
  }
  return body;
}

try {
  const request = JSON.parse(await readFile(file, "utf8"));
  const { decision } = await call("Decide", request);
  console.log(JSON.stringify(decision, null, 2));
} catch (error) {
  if (error.code === "invalid_argument") {
    console.error(`refused: ${error.message}`);
    for (const violation of error.violations) console.error(`${violation.field}: ${violation.description}`);
    process.exit(2);
  }
  console.error(`failed: ${error.message}`);
  process.exit(1);
}
