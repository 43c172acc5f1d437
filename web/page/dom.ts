/**
 * DOM helpers for the page. Untrusted text (names, messages, titles, server messages) is only
 * ever set as `textContent`, never parsed as HTML, and with control characters, bidi overrides
 * and invisible format characters shown as visible escapes (`protocol/text.ts`, the terminal's
 * rule), so that a message can neither run anything nor disguise itself or what follows it. Names
 * go through `showName` first (`protocol/shown_name.ts`).
 * @module
 */

import { escapeControls } from "../../protocol/text.ts";

/**
 * Sets untrusted text on a node: as text, with controls escaped and line breaks kept.
 *
 * @param node The element.
 * @param text The text.
 */
export function setText(node: Node, text: string): void {
  node.textContent = escapeControls(text, { keepNewlines: true });
}

/**
 * Finds an element by id, with its expected type.
 *
 * @param id The element's id.
 * @param type Its class, e.g. `HTMLInputElement`.
 * @returns The element.
 * @throws {Error} When the page lacks it (a build mistake).
 */
export function byId<T extends HTMLElement>(id: string, type: { new (): T }): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`The page has no ${type.name} #${id}`);
  return element;
}

/** Options for {@linkcode el}. */
export interface ElementOptions {
  /** Class names. */
  className?: string;
  /** Text, set with {@linkcode setText}. */
  text?: string;
  /** Attributes. */
  attrs?: Record<string, string>;
}

/**
 * Makes an element whose text is set as text.
 *
 * @param tag The tag name.
 * @param options Class, text and attributes.
 * @param children Elements to append.
 * @returns The element.
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: ElementOptions = {},
  children: Node[] = [],
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (options.className !== undefined) element.className = options.className;
  if (options.text !== undefined) setText(element, options.text);
  for (const [name, value] of Object.entries(options.attrs ?? {})) {
    element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

/**
 * Appends an item to a list and keeps it scrolled to the end, dropping the oldest beyond `max`.
 *
 * @param list The list.
 * @param item The new item.
 * @param max The most items kept.
 */
export function appendItem(list: HTMLElement, item: HTMLElement, max = 500): void {
  list.append(item);
  while (list.children.length > max) list.firstElementChild?.remove();
  list.scrollTop = list.scrollHeight;
}

/**
 * Formats seconds as `m:ss`.
 *
 * @param seconds The duration.
 * @returns The text.
 */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * Formats a bit rate for people.
 *
 * @param bitsPerSecond The rate.
 * @returns For example `1.2 Mbit/s`.
 */
export function rate(bitsPerSecond: number): string {
  return bitsPerSecond >= 1e6
    ? `${(bitsPerSecond / 1e6).toFixed(1)} Mbit/s`
    : `${Math.round(bitsPerSecond / 1e3)} kbit/s`;
}
