// A bot's everyday message calls: send, edit (discord.js sends enforce_nonce and tts with
// every edit), fetch, delete.
export default async function messages(client, { args, report }) {
  const channel = await client.channels.fetch(args.channel_id);
  const sent = await channel.send('hello from discord.js');
  const edited = await sent.edit('hello, edited by discord.js');
  const fetched = await channel.messages.fetch(sent.id);
  await fetched.delete();
  report({ sent: sent.id, edited: edited.content, fetched: fetched.content });
}
