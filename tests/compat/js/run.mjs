// Runs one scenario of an unmodified discord.js client against a Trioxide under test.
// Usage: node run.mjs <scenario> ; env TRIOXIDE_API (http://host:port), TRIOXIDE_TOKEN (a bot
// token), TRIOXIDE_ARGS (JSON). The scenario talks to the Python test in JSON lines: what it
// reports goes to stdout, what the test tells it comes on stdin.
import { createInterface } from 'node:readline';
import { Client, GatewayIntentBits } from 'discord.js';

const [scenarioName] = process.argv.slice(2);
const scenarioModule = await import(`./scenarios/${scenarioName}.mjs`);
const scenario = scenarioModule.default;
const args = JSON.parse(process.env.TRIOXIDE_ARGS ?? '{}');

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const context = {
  args,
  report(value) {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  },
  async told() {
    const { value, done } = await lines.next();
    if (done) throw new Error('the test closed stdin');
    return JSON.parse(value);
  },
};

const client = new Client({
  // A scenario may name the intents it needs (voice needs GuildVoiceStates).
  intents: scenarioModule.intents ?? [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages],
  rest: { api: `${process.env.TRIOXIDE_API}/api` },
});
// A failure anywhere ends the process non-zero, with the error on stderr for the test to show.
process.on('unhandledRejection', (error) => {
  console.error(error);
  process.exit(1);
});
try {
  const ready = new Promise((resolve) => client.once('clientReady', resolve));
  await client.login(process.env.TRIOXIDE_TOKEN);
  await ready;
  await scenario(client, context);
} finally {
  await client.destroy();
}
process.exit(0);
