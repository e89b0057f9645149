#!/usr/bin/env bash
# Remakes docs/jaeger-services.png: one request of examples/services.rs across the gateway,
# the embedding service and the LLM service, in Jaeger's UI, screenshotted with headless
# Chromium. Not part of the tests.
#
# Needs target/go/jaeger (scripts/test.sh builds it), Node 20 and npm. The Jaeger built from Go
# modules carries no UI (its web assets are built from the jaeger-ui repository, which no
# package registry serves), so this builds jaeger-ui v1.74.0 from its source: set
# JAEGER_UI_SRC to a checkout of that tag, or let the script download it from GitHub.
# Chromium comes from npm (@sparticuz/chromium, with puppeteer-core to drive it).
set -euo pipefail
cd "$(dirname "$0")/.."

work=target/jaeger-screenshot
mkdir -p "$work"
ui_src=${JAEGER_UI_SRC:-$work/jaeger-ui}
if [ ! -d "$ui_src/packages/jaeger-ui" ]; then
    mkdir -p "$ui_src"
    curl -fsSL https://github.com/jaegertracing/jaeger-ui/archive/refs/tags/v1.74.0.tar.gz |
        tar -xz --strip-components=1 -C "$ui_src"
fi
ui_build=$ui_src/packages/jaeger-ui/build
if [ ! -f "$ui_build/index.html" ]; then
    (cd "$ui_src" && npm install --ignore-scripts --no-audit --no-fund &&
        npm run --workspace @jaegertracing/plexus prepublishOnly &&
        npm run --workspace jaeger-ui build)
fi
if [ ! -d "$work/node_modules/@sparticuz/chromium" ]; then
    (cd "$work" && npm install --no-audit --no-fund --ignore-scripts @sparticuz/chromium@131 puppeteer-core@23)
fi

read -r grpc query query_grpc < <(python3 -c '
import socket
ports = []
for _ in range(3):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ports.append(s.getsockname()[1]); s.close()
print(*ports)')
cat >"$work/ui.yaml" <<EOF
extensions:
  jaeger_query:
    ui:
      assets_path: "$PWD/$ui_build"
EOF
JAEGER_OTLP_GRPC_PORT=$grpc JAEGER_OTLP_HTTP_PORT=0 JAEGER_QUERY_HTTP_PORT=$query \
    JAEGER_QUERY_GRPC_PORT=$query_grpc target/go/jaeger --config file:tests/jaeger/config.yaml \
    --config "file:$work/ui.yaml" >"$work/jaeger.log" 2>&1 &
jaeger=$!
trap 'kill $jaeger $services 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$query/api/services" >/dev/null; do sleep 0.5; done

cargo build -q --example services
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$grpc" OTEL_EXPORTER_OTLP_PROTOCOL=grpc target/debug/examples/services --port 0 \
    2>"$work/services.log" &
services=$!
until grep -q "listening on" "$work/services.log" 2>/dev/null; do sleep 0.2; done
gateway=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/services.log" | head -1)
# A question long enough for the self-hosted model to fail and the hosted one to answer.
curl -sf -H 'authorization: Bearer acme-key' -H 'x-request-id: req-4711' \
    "$gateway/ask?q=How+do+spans+nest+across+await+points+in+an+async+Rust+service%3F" >/dev/null
kill -TERM $services
wait $services || true
sleep 2

trace=$(curl -sf "http://127.0.0.1:$query/api/traces?service=gateway&limit=1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][0]["traceID"])')
cat >"$work/shot.cjs" <<'EOF'
const chromium = require('@sparticuz/chromium');
const puppeteer = require('puppeteer-core');
const [url, out] = process.argv.slice(2);
(async () => {
  const browser = await puppeteer.launch({
    args: chromium.args,
    executablePath: await chromium.executablePath(),
    headless: true,
    defaultViewport: { width: 1400, height: 720 },
  });
  const page = await browser.newPage();
  await page.goto(url, { waitUntil: 'networkidle0' });
  // Open the LLM service's fallback call, whose attributes carry the cost and the tenant.
  const rows = await page.$$('xpath/.//*[normalize-space(text())="chat gpt-4o-mini"]');
  if (rows.length === 0) throw new Error('no row "chat gpt-4o-mini" in the trace view');
  await rows[0].click();
  await new Promise((resolve) => setTimeout(resolve, 500));
  // Its attributes, opened.
  const tags = await page.$$('xpath/.//*[starts-with(normalize-space(text()), "Tags")]');
  if (tags.length > 0) {
    await tags[0].click();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await page.screenshot({ path: out, fullPage: true });
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
EOF
(cd "$work" && node shot.cjs "http://127.0.0.1:$query/trace/$trace?uiEmbed=v0" "$PWD/../../docs/jaeger-services.png")
echo "docs/jaeger-services.png: trace $trace"
