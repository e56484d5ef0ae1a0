// @openai/agents-realtime, unmodified, against a local rtagents server over WebSocket.
//
// Usage: RTAGENTS_URL=ws://127.0.0.1:PORT/v1/realtime RTAGENTS_API_KEY=sk-... node tool_turn.mjs
// A greeter hands off to a weather expert, which calls get_weather once; the
// server's scenario rules (rules.toml) choose both calls. Every raw server event
// is also checked against the SDK's own event schema. Prints one JSON summary
// line and exits 0 when the turn completed with no error and no invalid event.
import { RealtimeAgent, RealtimeSession, tool } from '@openai/agents-realtime';
import { realtimeServerEventSchema } from './node_modules/@openai/agents-realtime/dist/openaiRealtimeEvents.mjs';
import { z } from 'zod';

const url = process.env.RTAGENTS_URL;
const apiKey = process.env.RTAGENTS_API_KEY;
const timeoutMs = Number(process.env.RTAGENTS_TIMEOUT_MS ?? 30000);
if (!url || !apiKey) {
  console.error('set RTAGENTS_URL and RTAGENTS_API_KEY');
  process.exit(2);
}

const summary = {
  handoffs: [], toolCalls: [], toolResults: [], transcripts: [], errors: [], invalidEvents: [], eventsChecked: 0,
};

const getWeather = tool({
  name: 'get_weather',
  description: "Today's weather in a city.",
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => {
    summary.toolCalls.push(city);
    return `It is sunny in ${city}.`;
  },
});
const expert = new RealtimeAgent({ name: 'weather_expert', instructions: 'You know the weather.', tools: [getWeather] });
const greeter = new RealtimeAgent({ name: 'greeter', instructions: 'Greet and route.', handoffs: [expert] });
const session = new RealtimeSession(greeter, { transport: 'websocket', model: 'gpt-realtime' });

session.on('error', (event) => summary.errors.push(String(event?.error?.error?.message ?? event?.error?.message ?? JSON.stringify(event))));
session.on('agent_handoff', (_ctx, from, to) => summary.handoffs.push(`${from.name}->${to.name}`));
session.on('agent_tool_end', (_ctx, _agent, used, result) => summary.toolResults.push(`${used.name}: ${result}`));
session.transport.on('*', (raw) => {
  summary.eventsChecked += 1;
  const checked = realtimeServerEventSchema.safeParse(raw);
  if (!checked.success) summary.invalidEvents.push({ type: raw?.type, issues: checked.error.issues.slice(0, 3) });
});

function assistantSaid(text) {
  return session.history.some(
    (item) => item.type === 'message' && item.role === 'assistant' &&
      item.content.some((part) => (part.transcript ?? part.text ?? '').includes(text)),
  );
}

function until(text) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for the assistant to say ${JSON.stringify(text)}`)), timeoutMs);
    const check = () => {
      if (assistantSaid(text)) {
        clearTimeout(timer);
        session.off('history_updated', check);
        resolve();
      }
    };
    session.on('history_updated', check);
    check();
  });
}

let failure = null;
try {
  await session.connect({ apiKey, url });
  session.sendMessage("What's the weather like?");
  await until('Weather desk here. Which city?');
  session.sendMessage('What is the weather in Paris?');
  await until('It is sunny in Paris.');
} catch (error) {
  failure = String(error?.stack ?? error);
} finally {
  session.close();
}
for (const item of session.history) {
  if (item.type === 'message') {
    const text = item.content.map((part) => part.transcript ?? part.text ?? '').join(' ');
    summary.transcripts.push(`${item.role}: ${text}`);
  }
}
summary.failure = failure;
console.log(JSON.stringify(summary));
const ok = !failure && summary.errors.length === 0 && summary.invalidEvents.length === 0;
process.exit(ok ? 0 : 1);
