/**
 * What the player section shows of the title `page_player.ts` plays, beside its controls
 * (`controls.ts`): the quality choices, the seek bar's range, the section shown and hidden, and
 * the status line that says which rendition is on screen (the height of the frame presented, not
 * the one asked for or buffered) at what bit rate. It writes the page; it decides nothing.
 * @module
 */

import type { Quality, StreamStartMessage } from "../../protocol/messages.ts";
import { byId, clock, el, rate, setText } from "./dom.ts";

/** What plays, as the status line reads it. */
export interface ScreenState {
  /** The title on screen, if any. */
  stream?: StreamStartMessage;
  /** The quality asked for: `auto` or a fixed height. */
  quality: Quality;
}

/** The player section's title, quality choices, seek range and status line. */
export class PlayerScreen {
  readonly #video: HTMLVideoElement;
  readonly #state: () => ScreenState;

  /**
   * @param video The video element.
   * @param state What plays, read each time the status line is written.
   */
  constructor(video: HTMLVideoElement, state: () => ScreenState) {
    this.#video = video;
    this.#state = state;
    video.addEventListener("resize", () => this.showNow());
    this.#watchFrames();
  }

  /**
   * Offers auto and a title's heights in the quality choice, with one chosen.
   *
   * @param heights The title's heights.
   * @param quality The quality to choose.
   * @returns The quality chosen: `auto` when the title has not the height asked for.
   */
  offer(heights: readonly number[], quality: Quality): Quality {
    const select = byId("quality", HTMLSelectElement);
    select.replaceChildren(
      el("option", { text: "auto", attrs: { value: "auto" } }),
      ...heights.map((h) => el("option", { text: `${h}p`, attrs: { value: String(h) } })),
    );
    select.value = String(quality);
    if (select.value !== "") return quality;
    select.value = "auto";
    return "auto";
  }

  /**
   * Shows the section for a stream that starts: its renditions, the seek bar's range and place.
   *
   * @param start The stream's start.
   */
  open(start: StreamStartMessage): void {
    const player = byId("player", HTMLElement);
    player.dataset.renditions = start.renditions.map((r) => `${r.height}:${r.width}`).join(",");
    const seek = byId("seek", HTMLInputElement);
    seek.max = String(start.duration);
    seek.value = String(start.position);
    player.hidden = false;
    document.body.dataset.playing = start.title;
  }

  /** Hides the section and empties the status line. */
  close(): void {
    byId("player", HTMLElement).hidden = true;
    byId("now-playing", HTMLElement).textContent = "";
    delete document.body.dataset.playing;
  }

  /**
   * Writes the status line, and moves the seek bar with the playhead unless it is being dragged.
   *
   * @param shown The height of the frame being presented, when a frame callback knows it.
   */
  showNow(shown?: number): void {
    const { stream, quality } = this.#state();
    const line = byId("now-playing", HTMLElement);
    if (stream === undefined) {
      line.textContent = "";
      return;
    }
    // What is on screen: the decoded frame's height, not the rendition asked for or buffered.
    const height = shown ?? this.#video.videoHeight;
    const current = height === 0 ? undefined : {
      height,
      bitrate: nearest(stream.renditions, height)?.bitrate ?? 0,
    };
    const at = `${clock(this.#video.currentTime)} / ${clock(stream.duration)}`;
    const mode = quality === "auto" ? "auto" : "fixed";
    setText(
      line,
      current === undefined
        ? `${stream.title} · ${at} · starting…`
        : `${stream.title} · ${at} · ${current.height}p · ${rate(current.bitrate)} (${mode})`,
    );
    if (current !== undefined) line.dataset.height = String(current.height);
    const seek = byId("seek", HTMLInputElement);
    if (seek.dataset.dragging === undefined) seek.value = String(this.#video.currentTime);
  }

  /**
   * Where the browser tells each frame as it is presented (`requestVideoFrameCallback`: Chromium,
   * Firefox 132+), the line changes height with that very frame; elsewhere on `resize`, a little
   * after.
   */
  #watchFrames() {
    const video = this.#video;
    if (typeof video.requestVideoFrameCallback !== "function") return;
    let last = 0;
    const onFrame: VideoFrameRequestCallback = (_now, frame) => {
      if (frame.height !== last) {
        last = frame.height;
        this.showNow(frame.height);
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }
}

/** The rendition whose height is nearest to a decoded frame's. */
function nearest<T extends { height: number }>(renditions: readonly T[], height: number) {
  let best: T | undefined;
  for (const r of renditions) {
    if (best === undefined || Math.abs(r.height - height) < Math.abs(best.height - height)) {
      best = r;
    }
  }
  return best;
}
