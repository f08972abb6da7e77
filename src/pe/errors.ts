// The one error the PE reader (pe.ts) throws for a file it cannot read as a PE image: the analyzer and the direct-image planner see it.
import { SvcdupError } from '../errors.js';

/** A file that is not a PE image, or one whose structures are inconsistent (truncated, bad offsets, absurd counts). */
export class MalformedPeError extends SvcdupError {
  constructor(
    /** the structure that is wrong, e.g. "section table", "import directory" */
    readonly part: string,
    /** what is wrong with it */
    readonly detail: string,
    /** the file, when the caller knows it */
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}malformed PE file: ${part}: ${detail}`);
    this.name = 'MalformedPeError';
  }
  withFile(file: string): MalformedPeError {
    return new MalformedPeError(this.part, this.detail, file);
  }
  override toJSON(): Record<string, unknown> {
    return { name: this.name, message: this.message, part: this.part, detail: this.detail, ...(this.file ? { file: this.file } : {}) };
  }
}
