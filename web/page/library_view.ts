/**
 * The library as cards: a poster frame (extracted by the server once per title while it prepares
 * it), the title, its duration and resolutions, and its state (preparing with progress, ready,
 * failed), with a Play button. Titles are untrusted text and are only ever set as text.
 * @module
 */

import type { VideoSummary } from "../../protocol/messages.ts";
import { clock, el } from "./dom.ts";

/** Where the server serves a title's poster frame (see `server/door/web.ts`). */
export const POSTER_PREFIX = "/posters/";

/**
 * The poster's URL for a title.
 *
 * @param title The title.
 * @returns A path under {@linkcode POSTER_PREFIX}.
 */
export function posterUrl(title: string): string {
  return `${POSTER_PREFIX}${encodeURIComponent(title)}.jpg`;
}

/**
 * What a card says of a title's state, for people.
 *
 * @param video The title.
 * @returns For example `Ready`, `Preparing 40%` or `Could not be prepared`.
 */
export function stateText(video: VideoSummary): string {
  if (video.state === "ready") return "Ready";
  if (video.state === "preparing") return `Preparing ${Math.round(video.progress * 100)}%`;
  return "Could not be prepared";
}

/** Options for {@linkcode titleCard}. */
export interface CardOptions {
  /** Whether this page can play video (H.264 over MSE). */
  canPlay: boolean;
  /** Called when Play is pressed. */
  play: (video: VideoSummary) => void;
  /** Whether the page is offline (Play is off until it is back). @default {false} */
  offline?: boolean;
  /** Whether the server serves poster frames. @default {true} */
  posters?: boolean;
}

/**
 * A title's card.
 *
 * @param video The title.
 * @param options Whether it can play, and what Play does.
 * @returns The list item.
 */
export function titleCard(video: VideoSummary, options: CardOptions): HTMLLIElement {
  const ready = video.state === "ready";
  const poster = el("div", { className: "poster", attrs: { "aria-hidden": "true" } }, [
    el("span", { text: "▶" }),
  ]);
  if (ready && options.posters !== false) {
    const img = el("img", { attrs: { src: posterUrl(video.title), alt: "", decoding: "async" } });
    // No picture (an older server, or none could be made): the placeholder stays.
    img.addEventListener("error", () => img.remove());
    poster.append(img);
  }
  poster.append(el("span", { className: "duration", text: clock(video.duration) }));
  const heights = video.heights.map((h) => `${h}p`).join(" · ");
  const body = el("div", { className: "card-body" }, [
    el("h3", { text: video.title }),
    el("p", { className: "meta", text: heights }),
    el("p", { className: "meta state", text: stateText(video) }),
  ]);
  if (video.state === "preparing") {
    const bar = el("progress", {
      attrs: { max: "1", value: String(video.progress), "aria-label": `Preparing ${video.title}` },
    });
    body.append(bar);
  }
  const play = el("button", {
    text: "Play",
    className: "play primary",
    attrs: { type: "button", "data-title": video.title, "aria-label": `Play ${video.title}` },
  });
  // `data-ready` says whether Play may be on once the page is online again (`App.setConnection`).
  play.dataset.ready = String(ready && options.canPlay);
  play.disabled = !ready || !options.canPlay || options.offline === true;
  play.addEventListener("click", () => options.play(video));
  body.append(play);
  return el("li", {
    className: "card",
    attrs: { "data-title": video.title, "data-state": video.state },
  }, [poster, body]);
}
