/**
 * Watching together on the page (issue 21): the open room's "Watch together" (start a title for
 * the room), what the room plays with a Join button, "Stop for everyone", and while this page
 * follows a room, its player steered onto the room's timeline. The server does not drive the
 * page's stream: on each `room-playback` of the room followed the page uses the ordinary play,
 * seek, pause and resume of its own stream, in its own quality (`watch_steer.ts` says which), and
 * twice a second corrects the drift of the frame on screen by `playbackRate` or a seek. The
 * player's play/pause and seek go to the room as `room-control`; its Stop leaves only this
 * person. In a host-only room the controls are off for anyone but the owner, and say why.
 * @module
 */

import type { RoomPlaybackMessage, VideoSummary, WatchAction } from "../../protocol/messages.ts";
import type { ClientSession, RoomView } from "../../client/session.ts";
import { byId, el, setText } from "./dom.ts";
import type { PagePlayer } from "./page_player.ts";
import { WatchedPlayer } from "./watched_player.ts";
import { type PlaybackStep, WatchSteer } from "./watch_steer.ts";
import {
  controlBlockedWords,
  roomPlayingWords,
  watchChangeWords,
  watchingWords,
} from "./watch_words.ts";
import { consoleDetail, failureWords } from "./words.ts";

/**
 * While the player follows a room: its play/pause and seek go to the room, and Stop leaves only
 * this person.
 */
export interface RoomHooks {
  /** Play/pause (button, click on the picture, space, k) asks the room. */
  togglePause(): void;
  /** A seek (slider, ±10 s, keys) asks the room. */
  seek(position: number): void;
  /** The person pressed Stop: they leave the room's playback; the room plays on. */
  left(): void;
}

/** How often the drift is corrected, ms (docs/watch-together.md: twice a second). */
export const CORRECT_EVERY_MS = 500;
/** How often the server's clock is asked again, ms. */
export const CLOCK_EVERY_MS = 30_000;

/** Options for {@linkcode RoomWatch}. */
export interface RoomWatchOptions {
  /** The session of the moment. */
  session: () => ClientSession | undefined;
  /** The page's player. */
  player: () => PagePlayer | undefined;
  /** The library as last listed. */
  videos: () => readonly VideoSummary[];
  /** Adds a line to a room's chat. */
  line: (room: string, text: string) => void;
  /** Adds a notice to the page. */
  notice: (text: string, kind?: "info" | "warn") => void;
}

/** Every room's playback, and the one this page follows. */
export class RoomWatch {
  readonly #options: RoomWatchOptions;
  /** Each room's last timeline, by room id. */
  readonly #rooms = new Map<string, RoomPlaybackMessage>();
  /** The room followed, and its steer. */
  #following?: { room: string; steer: WatchSteer };
  #correcting?: ReturnType<typeof setInterval>;
  #clocking?: ReturnType<typeof setInterval>;
  /** The room shown in the room's view. */
  #shown?: RoomView;
  /** The player as the steering sees it, once there is a player. */
  #watched?: WatchedPlayer;

  /** @param options The session, the player, the library, lines and notices. */
  constructor(options: RoomWatchOptions) {
    this.#options = options;
  }

  /** The room this page follows, if any (its id). */
  get following(): string | undefined {
    return this.#following?.room;
  }

  /** Wires the room view's controls, once. */
  wire(): void {
    byId("room-watch-form", HTMLFormElement).addEventListener("submit", (event) => {
      event.preventDefault();
      const title = byId("room-watch-title", HTMLSelectElement).value;
      if (title !== "" && this.#allowed()) this.#start(title);
    });
    byId("room-watch-join", HTMLButtonElement).addEventListener("click", () => {
      const room = this.#shown;
      if (room !== undefined) this.#follow(room.id, "join");
    });
    byId("room-watch-stop", HTMLButtonElement).addEventListener("click", () => {
      const room = this.#shown;
      if (room !== undefined && this.#allowed()) this.#control(room.id, "stop");
    });
  }

  /**
   * A room's timeline came: a line in its chat for a member's change, the view updated, and the
   * player steered when this page follows that room.
   *
   * @param playback The `room-playback`.
   */
  playback(playback: RoomPlaybackMessage): void {
    const last = this.#rooms.get(playback.room);
    if (last !== undefined && playback.epoch <= last.epoch) return;
    this.#rooms.set(playback.room, playback);
    const words = watchChangeWords(playback, this.#me());
    if (words !== null) this.#options.line(playback.room, words);
    if (this.#shown?.id === playback.room) this.render(this.#shown);
    const following = this.#following;
    // Between a loss and the new session's start the timeline is kept; `connected` applies it.
    if (following?.room !== playback.room || this.#options.session()?.closed !== false) return;
    const step = following.steer.take(playback);
    if (step !== null) this.#apply(following.steer, step);
  }

  /** This person plays a title of their own: the room plays on without them. */
  leave(): void {
    if (this.#following === undefined) return;
    this.#unfollow();
    if (this.#shown !== undefined) this.render(this.#shown);
  }

  /**
   * The connection is gone: what the rooms played is forgotten, since the server tells each
   * room's state again after `welcome` (a room that stopped meanwhile tells nothing).
   */
  disconnected(): void {
    this.#rooms.clear();
  }

  /**
   * After a reconnect: the room followed is joined again at its position, or left if it plays
   * nothing any more. The server tells each room's state right after `welcome`, before it reads
   * any request: once its clock has answered, a room that told nothing plays nothing.
   */
  connected(): void {
    const room = this.#following?.room;
    if (room !== undefined) this.#follow(room, "rejoin");
  }

  /**
   * After a refresh: follows again the room this page followed, if this person is still a member
   * (left again if the room plays nothing any more).
   *
   * @param room The room's id.
   */
  rejoin(room: string): void {
    const session = this.#options.session();
    // Membership as the checked chains say, once they are checked.
    session?.rooms.idle.then(() => {
      const view = this.#room(room);
      const me = this.#me();
      if (view === undefined || (view.owner !== me && !view.members.includes(me))) return;
      if (this.#following === undefined && this.#options.session() === session) {
        this.#follow(room, "rejoin");
      }
    }, (error) => console.warn(consoleDetail(error)));
  }

  /**
   * Shows the open room's playback and its controls.
   *
   * @param room The open room, or undefined when none is open.
   */
  render(room: RoomView | undefined): void {
    this.#shown = room;
    const section = byId("room-watch", HTMLElement);
    const me = this.#me();
    const member = room !== undefined && isMember(room, me);
    section.hidden = !member;
    if (!member) return;
    const playback = this.#rooms.get(room.id);
    const playing = playback?.title !== undefined;
    const now = byId("room-watch-now", HTMLElement);
    now.hidden = !playing;
    if (playing) setText(now, roomPlayingWords(room.name, playback));
    byId("room-watch-join", HTMLButtonElement).hidden = !playing ||
      this.#following?.room === room.id;
    byId("room-watch-stop", HTMLButtonElement).hidden = !playing;
    this.#renderTitles();
    const blocked = controlBlockedWords(room, me);
    const reason = byId("room-watch-blocked", HTMLElement);
    reason.hidden = blocked === null;
    setText(reason, blocked ?? "");
    for (const id of ["room-watch-start", "room-watch-stop"]) {
      offWithReason(byId(id, HTMLButtonElement), blocked, "room-watch-blocked");
    }
    this.#renderPlayer();
  }

  #me(): string {
    return this.#options.session()?.name ?? "";
  }

  #room(id: string): RoomView | undefined {
    return this.#options.session()?.rooms.list().find((room) => room.id === id);
  }

  /** Whether this person may control the shown room's playback; says why not. */
  #allowed(room: RoomView | undefined = this.#shown): boolean {
    const blocked = room === undefined ? null : controlBlockedWords(room, this.#me());
    if (blocked !== null) this.#options.notice(blocked, "warn");
    return blocked === null;
  }

  #renderTitles() {
    const select = byId("room-watch-title", HTMLSelectElement);
    const chosen = select.value;
    const ready = this.#options.videos().filter((video) => video.state === "ready");
    // Rendered again only when the titles change: a list open in the person's hand stays as it is.
    const titles = JSON.stringify(ready.map((video) => video.title));
    if (select.dataset.titles === titles) return;
    select.dataset.titles = titles;
    select.replaceChildren(
      ...ready.map((video) => el("option", { text: video.title, attrs: { value: video.title } })),
    );
    if (ready.some((video) => video.title === chosen)) select.value = chosen;
  }

  /** The player's line "Watching with #club" and, in a host-only room, its controls off. */
  #renderPlayer() {
    const banner = byId("watch-banner", HTMLElement);
    const room = this.#following === undefined ? undefined : this.#room(this.#following.room);
    banner.hidden = room === undefined;
    const blocked = room === undefined ? null : controlBlockedWords(room, this.#me());
    setText(byId("watch-with", HTMLElement), room === undefined ? "" : watchingWords(room.name));
    setText(byId("watch-blocked", HTMLElement), blocked ?? "");
    for (const id of ["pause", "back", "forward"]) {
      offWithReason(byId(id, HTMLButtonElement), blocked, "watch-blocked");
    }
    offWithReason(byId("seek", HTMLInputElement), blocked, "watch-blocked");
  }

  /** Starts a title for the room, and follows it. */
  #start(title: string) {
    const room = this.#shown;
    if (room === undefined) return;
    this.#follow(room.id, "start");
    this.#control(room.id, "play", { title });
  }

  #control(room: string, action: WatchAction, options: { title?: string; position?: number } = {}) {
    const session = this.#options.session();
    const name = this.#room(room)?.name;
    if (session === undefined || name === undefined) return;
    // The session's watch link names a room as people type it.
    session.watch.control(name, action, options).then(
      (playback) => this.playback(playback),
      (error) => {
        console.warn(consoleDetail(error));
        this.#options.notice(failureWords(`Cannot ${action} in #${name}`, error), "warn");
      },
    );
  }

  /**
   * Follows a room: a fresh steer on the server's clock, the player's controls to the room, and
   * (when the room plays something) its title at its position; `start`: the title is being
   * started, its timeline comes as the answer; `rejoin`: left if the room plays nothing.
   */
  #follow(room: string, how: "start" | "join" | "rejoin") {
    this.#unfollow();
    const steer = new WatchSteer({ now: localNow });
    this.#following = { room, steer };
    this.#options.player()?.follow(this.#hooks(room, steer));
    const watched = this.#steered()?.watched;
    if (watched !== undefined) watched.onLanded = (asked, shown) => steer.started(asked, shown);
    this.#correcting = setInterval(() => this.#correct(steer), CORRECT_EVERY_MS);
    this.#clocking = setInterval(() => {
      this.#sampleClock(steer).catch((error) => console.warn(consoleDetail(error)));
    }, CLOCK_EVERY_MS);
    const joined = this.#sampleClock(steer).catch((error) => {
      // No sample: the page's own clock stands in until the next one; the drift shows it.
      console.warn(consoleDetail(error));
    }).then(() => {
      const playback = this.#rooms.get(room);
      if (how === "start" || this.#following?.steer !== steer) return;
      if (playback?.title === undefined) {
        if (how === "rejoin") this.leave();
        return;
      }
      const step = steer.take(playback);
      if (step !== null) this.#apply(steer, step);
    });
    joined.catch((error) => console.warn(consoleDetail(error)));
    this.#renderPlayer();
    if (this.#shown !== undefined) this.render(this.#shown);
  }

  /** Stops following (the room stopped, or this person pressed Stop). */
  #unfollow() {
    clearInterval(this.#correcting);
    clearInterval(this.#clocking);
    this.#following = undefined;
    this.#options.player()?.follow(undefined);
    this.#renderPlayer();
  }

  #hooks(room: string, steer: WatchSteer): RoomHooks {
    return {
      togglePause: () => {
        if (!this.#allowed(this.#room(room))) return;
        this.#control(room, steer.timeline?.rate === 0 ? "resume" : "pause");
      },
      seek: (position) => {
        if (this.#allowed(this.#room(room))) {
          this.#control(room, "seek", { position: Math.max(0, position) });
        }
      },
      left: () => {
        this.#unfollow();
        if (this.#shown !== undefined) this.render(this.#shown);
      },
    };
  }

  /** One `time` → `time-is` exchange for the steer. */
  async #sampleClock(steer: WatchSteer) {
    const session = this.#options.session();
    if (session === undefined || session.closed) return;
    const t0 = localNow();
    const server = await session.watch.time();
    steer.sample(t0, server, localNow());
  }

  /** The page's player and its steered view, once there is a player. */
  #steered(): { player: PagePlayer; watched: WatchedPlayer } | undefined {
    const player = this.#options.player();
    if (player === undefined) return undefined;
    this.#watched ??= new WatchedPlayer(player, byId("video", HTMLVideoElement));
    return { player, watched: this.#watched };
  }

  /** Does what a new timeline asks of the page's own stream. */
  #apply(steer: WatchSteer, step: PlaybackStep) {
    const steered = this.#steered();
    if (steered === undefined) return;
    const { player, watched } = steered;
    // While the room plays, a play or seek lands on its position of the moment the media can play.
    const roomNow = steer.timeline?.rate === 1 ? () => steer.roomPosition() : undefined;
    const failed = (error: unknown) => {
      console.warn(consoleDetail(error));
      this.#options.notice(failureWords("The player failed", error), "warn");
    };
    switch (step.kind) {
      case "play": {
        const video = this.#options.videos().find((v) => v.title === step.title);
        const known = video ?? { ...UNLISTED, title: step.title };
        watched.playAt(known, step.position, { paused: step.paused, roomNow }).catch(failed);
        return;
      }
      case "seek":
        watched.setRate(1);
        player.hold(step.paused).then(() => watched.seekTo(step.position, { roomNow }))
          .catch(failed);
        return;
      case "pause":
      case "resume":
        watched.setRate(1);
        player.hold(step.kind === "pause").then(() => this.#correct(steer)).catch(failed);
        return;
      case "stop":
        this.#unfollow();
        player.stop().catch(failed);
        return;
      case "none":
        return;
    }
  }

  /** Twice a second: the drift of the frame on screen, corrected. */
  #correct(steer: WatchSteer) {
    const following = this.#following;
    if (following?.steer !== steer) return;
    // Out of the room (left, removed): its playback is not this person's any more.
    const room = this.#room(following.room);
    const me = this.#me();
    if (room !== undefined && room.owner !== me && !room.members.includes(me)) return this.leave();
    const watched = this.#steered()?.watched;
    if (watched === undefined || watched.landing) return;
    if (watched.title !== steer.timeline?.title) return;
    const screen = watched.onScreen();
    if (screen === undefined) return;
    watched.keepPlaying(steer.timeline?.rate === 1);
    const action = steer.correct(screen);
    if (action.kind === "rate") watched.setRate(action.rate);
    else if (action.kind === "seek") {
      const roomNow = steer.timeline?.rate === 1 ? () => steer.roomPosition() : undefined;
      watched.seekTo(action.position, { roomNow }).catch((e) => console.warn(consoleDetail(e)));
    }
  }
}

/** A title the library has not listed yet: the server knows it (the room plays it). */
const UNLISTED: VideoSummary = {
  title: "",
  heights: [],
  duration: 0,
  hasAudio: false,
  state: "ready",
  progress: 1,
};

/** Whether a person is a member of a room that works (not read-only). */
function isMember(room: RoomView, me: string): boolean {
  return room.broken === undefined && (room.owner === me || room.members.includes(me));
}

/** This end's clock, ms since the epoch, monotonic within the page. */
function localNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Turns a control off with its reason (accessible: `aria-disabled` and the reason's text, still
 * focusable so that the reason is read), or on again.
 */
function offWithReason(control: HTMLElement, reason: string | null, reasonId: string) {
  if (reason === null) {
    control.removeAttribute("aria-disabled");
    control.removeAttribute("aria-describedby");
  } else {
    control.setAttribute("aria-disabled", "true");
    control.setAttribute("aria-describedby", reasonId);
  }
}
