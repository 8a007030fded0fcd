// A bot makes an incoming webhook, and the webhook posts with its own name.
export default async function webhooks(client, { args, report }) {
  const channel = await client.channels.fetch(args.channel_id);
  const webhook = await channel.createWebhook({ name: 'Announcer' });
  const sent = await webhook.send({ content: 'via the webhook', username: 'Town Crier' });
  const edited = await webhook.editMessage(sent, { content: 'via the webhook, edited' });
  report({
    webhook_id: webhook.id,
    has_token: typeof webhook.token === 'string' && webhook.token.length > 0,
    message_id: sent.id,
    author: sent.author.username,
    message_webhook_id: sent.webhookId,
    edited: edited.content,
  });
}
