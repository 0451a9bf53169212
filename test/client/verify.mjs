// Verifies signed webhook calls with the official Standard Webhooks and Svix
// libraries. Reads from stdin a JSON array of
//   {"secret": "whsec_…", "headers": {"webhook-id": …, "webhook-timestamp": …, "webhook-signature": …}, "body": "…"}
// and prints one line per entry: {"standardwebhooks": true|"<error>", "svix": true|"<error>"}.
// The Go test decides which entries must pass and which must fail.
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));

function attempt(fn) {
  try {
    fn();
    return true;
  } catch (e) {
    return String(e.message || e);
  }
}

for (const entry of input) {
  console.log(JSON.stringify({
    standardwebhooks: attempt(() => new StandardWebhook(entry.secret).verify(entry.body, entry.headers)),
    svix: attempt(() => new SvixWebhook(entry.secret).verify(entry.body, entry.headers)),
  }));
}
