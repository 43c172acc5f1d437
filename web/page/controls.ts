/**
 * The player's own controls beside what `page_player.ts` asks of the server: the time and the
 * scrubber's played and buffered fill, volume and mute, full screen, picture-in-picture (where the
 * browser has it) and the keys (`player_keys.ts`). Play/pause, seek and stop go to the page
 * player through {@linkcode PlayerActions}.
 * @module
 */

import { rangesOf } from "./buffer_gaps.ts";
import { byId, clock } from "./dom.ts";
import { type KeyAction, keyAction, scrubberFill } from "./player_keys.ts";

/** What the controls ask of the page player. */
export interface PlayerActions {
  /** Whether a title is on screen. */
  active(): boolean;
  /** The title's duration, s. */
  duration(): number;
  /** Pauses or resumes. */
  togglePause(): void;
  /** Seeks to a position, s. */
  seek(position: number): void;
}

/** The controls of the player section. */
export class PlayerControls {
  readonly #video: HTMLVideoElement;
  readonly #section: HTMLElement;
  readonly #actions: PlayerActions;

  /**
   * @param video The video element.
   * @param section The player's section (what goes full screen, with its controls).
   * @param actions Play/pause and seek.
   */
  constructor(video: HTMLVideoElement, section: HTMLElement, actions: PlayerActions) {
    this.#video = video;
    this.#section = section;
    this.#actions = actions;
    this.#wireVolume();
    this.#wireScreens();
    for (const event of ["timeupdate", "progress", "durationchange", "seeked", "emptied"]) {
      video.addEventListener(event, () => this.paint());
    }
    const seek = byId("seek", HTMLInputElement);
    // While a pointer holds the thumb, the playhead does not pull it back.
    seek.addEventListener("pointerdown", () => seek.dataset.dragging = "");
    seek.addEventListener("change", () => delete seek.dataset.dragging);
    // A click on the picture plays or pauses it; a double click goes full screen.
    video.addEventListener("click", () => actions.togglePause());
    video.addEventListener("dblclick", () => this.#toggleFullscreen());
    seek.addEventListener("input", (event) => {
      // While dragging: the time shows where the thumb is; the seek happens on release.
      const at = Number((event.target as HTMLInputElement).value);
      byId("time", HTMLElement).textContent = `${clock(at)} / ${clock(actions.duration())}`;
    });
    document.addEventListener("keydown", (event) => this.#key(event));
  }

  /**
   * Shows whether the player is paused on its play/pause button.
   *
   * @param paused Whether it is paused.
   */
  showPaused(paused: boolean): void {
    const button = byId("pause", HTMLButtonElement);
    button.toggleAttribute("data-paused", paused);
    button.setAttribute("aria-label", paused ? "Play" : "Pause");
    button.title = paused ? "Play (space)" : "Pause (space)";
  }

  /** Writes the time and paints the scrubber's played and buffered parts. */
  paint(): void {
    const duration = this.#actions.duration();
    const time = this.#video.currentTime;
    byId("time", HTMLElement).textContent = `${clock(time)} / ${clock(duration)}`;
    const fill = scrubberFill(time, duration, rangesOf(this.#video.buffered));
    const played = byId("played", HTMLElement);
    const buffered = byId("buffered", HTMLElement);
    // CSSOM, not style attributes: allowed under the page's CSP (style-src 'self').
    played.style.width = `${fill.played * 100}%`;
    buffered.style.left = `${fill.bufferedStart * 100}%`;
    buffered.style.width = `${(fill.bufferedEnd - fill.bufferedStart) * 100}%`;
  }

  /** Leaves full screen and picture-in-picture when the title goes off screen. */
  closed(): void {
    if (document.fullscreenElement === this.#section) document.exitFullscreen().catch(() => {});
    if (document.pictureInPictureElement === this.#video) {
      document.exitPictureInPicture().catch(() => {});
    }
  }

  #wireVolume() {
    const video = this.#video;
    const mute = byId("mute", HTMLButtonElement);
    const volume = byId("volume", HTMLInputElement);
    mute.addEventListener("click", () => video.muted = !video.muted);
    volume.addEventListener("input", () => {
      video.volume = Number(volume.value);
      if (video.volume > 0) video.muted = false;
    });
    video.addEventListener("volumechange", () => {
      const silent = video.muted || video.volume === 0;
      mute.setAttribute("aria-pressed", String(silent));
      mute.setAttribute("aria-label", silent ? "Unmute" : "Mute");
      mute.title = silent ? "Unmute (m)" : "Mute (m)";
      volume.value = String(video.muted ? 0 : video.volume);
      volume.setAttribute("aria-valuetext", `${Math.round(Number(volume.value) * 100)}%`);
    });
  }

  #wireScreens() {
    const full = byId("fullscreen", HTMLButtonElement);
    full.addEventListener("click", () => this.#toggleFullscreen());
    document.addEventListener("fullscreenchange", () => {
      const on = document.fullscreenElement === this.#section;
      full.setAttribute("aria-pressed", String(on));
      full.setAttribute("aria-label", on ? "Exit full screen" : "Full screen");
      document.body.toggleAttribute("data-fullscreen", on);
    });
    full.hidden = !document.fullscreenEnabled;
    const pip = byId("pip", HTMLButtonElement);
    // Firefox has its own picture-in-picture toggle on the video, and no API for a page.
    pip.hidden = !document.pictureInPictureEnabled;
    pip.addEventListener("click", () => {
      const leave = document.pictureInPictureElement === this.#video;
      (leave ? document.exitPictureInPicture() : this.#video.requestPictureInPicture().then(
        () => {},
      )).catch(() => {});
    });
  }

  #toggleFullscreen() {
    if (document.fullscreenElement === this.#section) {
      document.exitFullscreen().catch(() => {});
    } else {
      this.#section.requestFullscreen().catch(() => {});
    }
  }

  #key(event: KeyboardEvent) {
    if (!this.#actions.active() || event.defaultPrevented) return;
    const target = event.target instanceof HTMLElement ? event.target : document.body;
    const action = keyAction(event.key, {
      tag: target.tagName.toLowerCase(),
      type: target instanceof HTMLInputElement ? target.type : undefined,
      id: target.id,
      editable: target.isContentEditable,
      modified: event.ctrlKey || event.altKey || event.metaKey,
      dialogOpen: document.querySelector("dialog[open]") !== null,
    });
    if (action === null) return;
    event.preventDefault();
    this.#apply(action);
  }

  #apply(action: KeyAction) {
    const video = this.#video;
    switch (action.kind) {
      case "toggle-pause":
        return this.#actions.togglePause();
      case "fullscreen":
        return this.#toggleFullscreen();
      case "mute":
        video.muted = !video.muted;
        return;
      case "seek-by":
        return this.#actions.seek(video.currentTime + action.seconds);
      case "seek-to":
        return this.#actions.seek(action.fraction * this.#actions.duration());
      case "volume-by":
        video.volume = Math.min(1, Math.max(0, video.volume + action.amount));
        video.muted = false;
        return;
    }
  }
}
