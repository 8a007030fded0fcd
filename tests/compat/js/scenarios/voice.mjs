// A voice bot driven step by step: @discordjs/voice, unmodified, joining through
// guild.voiceAdapterCreator. Each line the test tells is one step ({do: name, ...}); each step
// reports once. Until {do: 'done'}. Audio heard is kept per user (silence frames, which every
// sender adds after a stream, left out) for the test to take in order.
import { Readable } from 'node:stream';
import { GatewayIntentBits } from 'discord.js';
import {
  AudioPlayerStatus,
  EndBehaviorType,
  NoSubscriberBehavior,
  StreamType,
  VoiceConnectionStatus,
  createAudioPlayer,
  createAudioResource,
  entersState,
  joinVoiceChannel,
} from '@discordjs/voice';

export const intents = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildVoiceStates];

const WAIT_MS = 20_000;
const FRAME_MS = 20;
const SILENCE = 'f8fffe';
const RESUMING = 5; // @discordjs/voice's NetworkingStatusCode
const READY = 4;

export default async function voice(client, { args, report, told }) {
  const guild = await client.guilds.fetch(args.guild_id);
  const heard = new Map(); // user id -> frames (hex) not yet taken by the test
  const watchers = new Set();
  let connection = null;
  let resumes = 0;

  const changed = () => {
    for (const check of [...watchers]) check();
  };
  const until = (predicate) =>
    new Promise((resolve) => {
      const check = () => {
        if (predicate()) {
          watchers.delete(check);
          resolve();
        }
      };
      watchers.add(check);
      check();
    });
  const networking = () => connection.state.networking?.state;
  const describe = () => ({
    status: connection.state.status,
    channel_id: connection.joinConfig.channelId,
    mode: networking()?.connectionData?.encryptionMode ?? null,
    ssrc: networking()?.connectionData?.ssrc ?? null,
    close_code: connection.state.closeCode ?? null,
    // The local port of its voice WebSocket (ws's socket, read only): the test finds the
    // server's end of it by this.
    ws_port: networking()?.ws?.ws?._socket?.localPort ?? null,
  });

  const steps = {
    async join({ channel_id, self_deaf = false, self_mute = false }) {
      connection = joinVoiceChannel({
        channelId: channel_id,
        guildId: guild.id,
        adapterCreator: guild.voiceAdapterCreator,
        selfDeaf: self_deaf,
        selfMute: self_mute,
      });
      // As bots are told to: a socket error (the abort a test makes) is logged, not fatal;
      // the connection resumes or reconnects by itself.
      connection.on('error', (error) => console.error('voice connection error:', error.message));
      connection.on('stateChange', (before, after) => {
        if (after.networking && after.networking !== before.networking) {
          after.networking.on('stateChange', (was, now) => {
            if (was.code === RESUMING && now.code === READY) resumes += 1;
            changed();
          });
        }
        changed();
      });
      for (const event of ['create', 'update', 'delete']) connection.receiver.ssrcMap.on(event, changed);
      await entersState(connection, VoiceConnectionStatus.Ready, WAIT_MS);
      return describe();
    },
    // From now on, keeps what `user_id` is heard saying. A stream that fails to decrypt
    // errors, and the error, unhandled, ends this process.
    listen({ user_id }) {
      heard.set(user_id, []);
      const stream = connection.receiver.subscribe(user_id, { end: { behavior: EndBehaviorType.Manual } });
      stream.on('data', (frame) => {
        const hex = frame.toString('hex');
        if (hex !== SILENCE) heard.get(user_id).push(hex);
        changed();
      });
      return { listening: user_id };
    },
    // The next `count` frames heard from `user_id`, waiting for them.
    async frames({ user_id, count }) {
      const frames = heard.get(user_id);
      await until(() => frames.length >= count);
      return { frames: frames.splice(0, count) };
    },
    // Whatever is heard from `user_id` and not taken yet, without waiting.
    unheard({ user_id }) {
      return { frames: heard.get(user_id).splice(0) };
    },
    // The SSRC op 5 mapped to `user_id` (waiting for one), or, with `gone`, waits until the
    // user's mapping is removed (op 13).
    async ssrc({ user_id, gone = false }) {
      const map = connection.receiver.ssrcMap;
      await until(() => (map.get(user_id) === undefined) === gone);
      return { ssrc: map.get(user_id)?.audioSSRC ?? null };
    },
    async play({ frames }) {
      const player = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
      const subscription = connection.subscribe(player);
      const packets = frames.map((hex) => Buffer.from(hex, 'hex'));
      player.play(createAudioResource(Readable.from(packets), { inputType: StreamType.Opus }));
      await entersState(player, AudioPlayerStatus.Playing, WAIT_MS);
      await entersState(player, AudioPlayerStatus.Idle, WAIT_MS + frames.length * FRAME_MS);
      subscription.unsubscribe();
      player.stop();
      return { played: frames.length };
    },
    async status({ status }) {
      await entersState(connection, status, WAIT_MS);
      return describe();
    },
    // Waits until the connection has resumed `count` times in all.
    async resumed({ count }) {
      await until(() => resumes >= count && networking()?.code === READY);
      return describe();
    },
    // Waits until the connection is ready in `channel_id` (after a move).
    async moved({ channel_id }) {
      await until(() => connection.joinConfig.channelId === channel_id && networking()?.code === READY);
      return describe();
    },
  };

  for (let step = await told(); step.do !== 'done'; step = await told()) {
    report(await steps[step.do](step));
  }
  if (connection && connection.state.status !== VoiceConnectionStatus.Destroyed) connection.destroy();
}
