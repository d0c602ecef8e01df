// matrix-js-sdk against Axon's media repository (tests/e2e/test_js_sdk.py): uploads the bytes
// of argv[5] with uploadContent, then downloads them through the authenticated route the SDK
// builds (mxcUrlToHttp with useAuthentication) and prints what came back as JSON.
//   node media.mjs BASE_URL USER_ID ACCESS_TOKEN CONTENT_TYPE FILE
import { readFileSync } from "node:fs";
import * as sdk from "matrix-js-sdk";

const [baseUrl, userId, accessToken, type, file] = process.argv.slice(2);
const client = sdk.createClient({ baseUrl, userId, accessToken });
const data = readFileSync(file);
const uploaded = await client.uploadContent(data, { name: "from js-sdk.bin", type });
const url = client.mxcUrlToHttp(uploaded.content_uri, undefined, undefined, undefined, false, true, true);
const r = await fetch(url, { headers: { Authorization: `Bearer ${accessToken}` } });
const body = Buffer.from(await r.arrayBuffer());
const thumb = client.mxcUrlToHttp(uploaded.content_uri, 64, 64, "crop", false, true, true);
const t = await fetch(thumb, { headers: { Authorization: `Bearer ${accessToken}` } });
console.log(JSON.stringify({
  content_uri: uploaded.content_uri,
  download_url: url,
  status: r.status,
  content_type: r.headers.get("content-type"),
  same_bytes: body.equals(data),
  thumbnail_status: t.status,
  thumbnail_type: t.headers.get("content-type"),
}));
