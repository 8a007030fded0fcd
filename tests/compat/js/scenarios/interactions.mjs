// A bot answering a person: an ephemeral reply, a deferred reply edited then followed up, and a
// button whose click updates the message. Reports each interaction it handled; ends when told.
import { ActionRowBuilder, ButtonBuilder, ButtonStyle, MessageFlags } from 'discord.js';

async function answer(interaction) {
  if (interaction.isButton()) {
    await interaction.update({ content: `pressed ${interaction.customId}`, components: [] });
    return interaction.customId;
  }
  switch (interaction.commandName) {
    case 'ping':
      await interaction.reply({ content: 'pong', flags: MessageFlags.Ephemeral });
      break;
    case 'slow':
      await interaction.deferReply();
      await interaction.editReply('done thinking');
      await interaction.followUp('and one more thing');
      break;
    case 'buttons': {
      const press = new ButtonBuilder()
        .setCustomId('press')
        .setLabel('Press')
        .setStyle(ButtonStyle.Primary);
      await interaction.reply({
        content: 'press it',
        components: [new ActionRowBuilder().addComponents(press)],
      });
      break;
    }
    default:
      throw new Error(`unexpected command ${interaction.commandName}`);
  }
  return interaction.commandName;
}

export default async function interactions(client, { report, told }) {
  client.on('interactionCreate', (interaction) => {
    answer(interaction).then(
      (handled) => report({ handled, user: interaction.user.id }),
      (error) => report({ error: String(error) }),
    );
  });
  const commands = await client.application.commands.set([
    { name: 'ping', description: 'Replies with pong' },
    { name: 'slow', description: 'Thinks, then answers twice' },
    { name: 'buttons', description: 'A button to press' },
  ]);
  report({
    ready: Object.fromEntries([...commands.values()].map((c) => [c.name, { id: c.id, version: c.version }])),
  });
  await told(); // the test is done with us
}
