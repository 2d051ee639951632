/** The ratchet_tree extension (RFC 9420 §12.4.3.3). */
import { decode } from "../codec/reader.js";
import { fail } from "../errors.js";
import { ExtensionType, findExtension, type Extension } from "../extensions/extension.js";
import { decodeRatchetTree, type Node } from "../tree/node.js";

/** The tree carried in a GroupInfo's extensions, or undefined when absent. */
export function decodeRatchetTreeExtension(extensions: readonly Extension[]): (Node | undefined)[] | undefined {
  const ext = findExtension(extensions, ExtensionType.ratchet_tree);
  if (ext === undefined) return undefined;
  try {
    return decode(decodeRatchetTree, ext.extensionData);
  } catch {
    return fail("InvalidGroupInfo", "malformed ratchet_tree extension");
  }
}
