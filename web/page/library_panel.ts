/**
 * The library on the joined page: titles listed as cards (asked again while the server loads them
 * or prepares one, so progress and readiness show by themselves), and the title that was playing
 * before a refresh or a loss resumed once it is ready.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { VideoSummary } from "../../protocol/messages.ts";
import type { ClientSession } from "../../client/session.ts";
import { byId, clock, setText } from "./dom.ts";
import { titleCard } from "./library_view.ts";
import type { PagePlayer } from "./page_player.ts";
import type { SessionMemory } from "./last_session.ts";
import { consoleDetail, failureWords } from "./words.ts";

/** How often the page asks again while the library loads or titles are being prepared, ms. */
const LIBRARY_POLL_MS = 2000;

/** Options for {@linkcode LibraryPanel}. */
export interface LibraryPanelOptions {
  /** The server's codec (`h264` or `mjpeg`): only H.264 plays in the page. */
  codec: string;
  /** The session of the moment (none before the first join). */
  session: () => ClientSession | undefined;
  /** The page's player (none before the first join). */
  player: () => PagePlayer | undefined;
  /** Whether the connection is down (Play is off). */
  offline: () => boolean;
  /** Adds a notice to the page. */
  notice: (text: string, kind?: "info" | "warn") => void;
  /** What a refresh picks up: the title playing. */
  memory?: SessionMemory;
  /** Whether the player follows a room (its title is the room's, not one to resume). */
  following?: () => boolean;
  /** A card's Play was pressed: a title of this person's own (they leave a room's playback). */
  played?: () => void;
  /** The title played was a room's: follow that room again (by id) instead of resuming it. */
  rejoinRoom?: (room: string) => void;
}

/** The titles' cards, their refresh, and resuming what was playing. */
export class LibraryPanel {
  readonly #options: LibraryPanelOptions;
  /** The next library refresh, while it loads or a title is being prepared. */
  #libraryTimer?: ReturnType<typeof setTimeout>;
  /** The library as last listed, for resuming a title. */
  #videos: VideoSummary[] = [];
  /** A title that was playing is to play again once the library lists it ready. */
  #resumePending = false;

  /** @param options The codec, the session and player, the connection, notices, memory. */
  constructor(options: LibraryPanelOptions) {
    this.#options = options;
  }

  /** The library as last listed. */
  get videos(): readonly VideoSummary[] {
    return this.#videos;
  }

  /** After a join: the title that was playing plays again once the library lists it ready. */
  resumeAfterJoin(): void {
    this.#resumePending = true;
  }

  /** Stops asking again (the connection is gone). */
  stop(): void {
    clearTimeout(this.#libraryTimer);
  }

  /**
   * Plays again the title that was playing before the refresh or the loss, at its second: once
   * per join, when the library lists it ready (a restarted server may still be preparing it).
   */
  async #resume() {
    if (!this.#resumePending) return;
    const playing = this.#options.memory?.load()?.playing;
    const video = this.#videos.find((v) => v.title === playing?.title);
    if (video?.state === "preparing") return;
    this.#resumePending = false;
    if (this.#options.following?.() === true) return;
    if (playing?.room !== undefined && this.#options.rejoinRoom !== undefined) {
      return this.#options.rejoinRoom(playing.room);
    }
    if (playing === undefined || video?.state !== "ready") return;
    if (document.body.dataset.playing !== undefined) return;
    this.#options.notice(`Resuming ${video.title} at ${clock(playing.position)}`);
    await this.#options.player()?.play(video, {
      position: playing.position,
      quality: playing.quality,
    });
  }

  /**
   * Fetches and shows the library; while it is still loading, or a title is being prepared, asks
   * again every {@linkcode LIBRARY_POLL_MS} so that progress and readiness show by themselves.
   */
  async refresh(): Promise<void> {
    clearTimeout(this.#libraryTimer);
    this.#libraryTimer = undefined;
    const session = this.#options.session();
    if (session === undefined || document.body.dataset.joined === "") return;
    const list = byId("titles", HTMLUListElement);
    let videos: VideoSummary[];
    try {
      videos = await session.list();
    } catch (error) {
      if (error instanceof PeerstreamError && error.code === "VIDEO_NOT_READY") {
        setText(byId("library-state", HTMLElement), "The server is still loading its videos…");
        this.#refreshLater();
      } else {
        console.warn(consoleDetail(error));
        this.#options.notice(failureWords("Cannot list the videos", error), "warn");
      }
      return;
    }
    setText(byId("library-state", HTMLElement), "");
    this.#videos = videos;
    list.replaceChildren(...videos.map((video) =>
      titleCard(video, {
        canPlay: this.#options.codec === "h264",
        offline: this.#options.offline(),
        play: (chosen) => {
          this.#options.played?.();
          this.#options.player()?.play(chosen);
        },
      })
    ));
    if (videos.some((video) => video.state === "preparing")) this.#refreshLater();
    await this.#resume();
  }

  #refreshLater() {
    // One timer, however many refreshes were in flight (a click while one waits for LIST).
    clearTimeout(this.#libraryTimer);
    this.#libraryTimer = setTimeout(() => this.refresh(), LIBRARY_POLL_MS);
  }
}
