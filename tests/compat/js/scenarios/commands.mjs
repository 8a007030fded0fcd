// Command sync as discord.js bots do it on start: the global set twice (the second changes one
// description), then a guild's own set.
const echo = {
  name: 'echo',
  description: 'Says it back',
  options: [{ type: 3, name: 'text', description: 'What to say', required: true }],
};

const summary = (commands) =>
  [...commands.values()]
    .map((command) => ({ id: command.id, name: command.name, version: command.version }))
    .sort((a, b) => a.name.localeCompare(b.name));

export default async function commands(client, { args, report }) {
  // (Summed up at once: discord.js patches its cached command objects in place.)
  const first = summary(
    await client.application.commands.set([
      { name: 'ping', description: 'Replies with pong' },
      echo,
    ]),
  );
  const second = summary(
    await client.application.commands.set([
      { name: 'ping', description: 'Replies with pong, quickly' },
      echo,
    ]),
  );
  const guild = await client.guilds.fetch(args.guild_id);
  const local = summary(
    await guild.commands.set([{ name: 'local', description: 'Only in this guild' }]),
  );
  const fetched = summary(await client.application.commands.fetch());
  report({ first, second, guild: local, fetched });
}
