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
  const first = await client.application.commands.set([
    { name: 'ping', description: 'Replies with pong' },
    echo,
  ]);
  const second = await client.application.commands.set([
    { name: 'ping', description: 'Replies with pong, quickly' },
    echo,
  ]);
  const guild = await client.guilds.fetch(args.guild_id);
  const local = await guild.commands.set([{ name: 'local', description: 'Only in this guild' }]);
  const fetched = await client.application.commands.fetch();
  report({
    first: summary(first),
    second: summary(second),
    guild: summary(local),
    fetched: summary(fetched),
  });
}
