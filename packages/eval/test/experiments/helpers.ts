// Test helpers: a tiny SAE written with writeSae (identity encoder and decoder), and a strict little XML parser
// that rejects malformed SVG and exposes elements and attributes for assertions.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSae, writeSae, type SaeRuntime } from '@steer/sae';

/** An SAE whose latents are the input coordinates (W_enc = W_dec = I, zero biases), top-k of them. */
export async function identitySae(
  dModel: number,
  k: number,
): Promise<{ sae: SaeRuntime; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'steer-eval-exp-'));
  const eye = new Float32Array(dModel * dModel);
  for (let i = 0; i < dModel; i++) eye[i * dModel + i] = 1;
  await writeSae(
    join(dir, 'sae'),
    {
      W_enc: eye,
      b_enc: new Float32Array(dModel),
      W_dec: eye.slice(),
      b_dec: new Float32Array(dModel),
      dModel,
      nLatents: dModel,
    },
    { k, embedding: { model: 'test-identity', dims: dModel, normalized: false } },
  );
  const sae = await loadSae(join(dir, 'sae'));
  return {
    sae,
    cleanup: async () => {
      await sae.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

function decode(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Parses a well-formed XML document (no DTD, no CDATA); throws on mismatched tags, bad attributes or stray `&`/`<`. */
export function parseXml(source: string): XmlElement {
  let pos = 0;
  const text = source.replace(/^<\?xml[^>]*\?>\s*/, '');
  const root: XmlElement = { name: '#document', attributes: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"<]*")*)\s*(\/?)>/y;
  const attr = /([A-Za-z_][\w:.-]*)="([^"<]*)"/g;
  while (pos < text.length) {
    const lt = text.indexOf('<', pos);
    const chunk = text.slice(pos, lt < 0 ? text.length : lt);
    if (ENTITY.test(chunk)) throw new Error(`xml: bare & in text near ${pos}`);
    stack[stack.length - 1]!.text += decode(chunk);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(text);
    if (!m) throw new Error(`xml: malformed tag at ${lt}: ${text.slice(lt, lt + 40)}`);
    const [, close, name, attrs, selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`xml: </${name}> closes <${open?.name}>`);
    } else {
      const attributes: Record<string, string> = {};
      for (const a of attrs!.matchAll(attr)) {
        if (ENTITY.test(a[2]!)) throw new Error(`xml: bare & in attribute ${a[1]}`);
        if (a[1]! in attributes) throw new Error(`xml: duplicate attribute ${a[1]}`);
        attributes[a[1]!] = decode(a[2]!);
      }
      const element: XmlElement = { name: name!, attributes, children: [], text: '' };
      stack[stack.length - 1]!.children.push(element);
      if (!selfClose) stack.push(element);
    }
    pos = tag.lastIndex;
  }
  if (stack.length !== 1) throw new Error(`xml: <${stack[stack.length - 1]!.name}> is never closed`);
  if (root.children.length !== 1 || root.text.trim() !== '')
    throw new Error('xml: a document needs exactly one root element');
  return root.children[0]!;
}

/** Every element of the tree, depth first. */
export function allElements(element: XmlElement): XmlElement[] {
  return [element, ...element.children.flatMap(allElements)];
}
