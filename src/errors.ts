// Errors the user sees. Every failure names what failed and, where Windows said why, its Win32 code.

export class SvcdupError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'SvcdupError';
  }
  toJSON(): Record<string, unknown> {
    return { name: this.name, message: this.message };
  }
}

/** A failed agent operation, carrying the Win32 error code and its system message. */
export class AgentError extends SvcdupError {
  constructor(
    readonly op: string,
    readonly code: number,
    readonly winMessage: string,
  ) {
    super(`${op} failed: Win32 error ${code}: ${winMessage}`);
    this.name = 'AgentError';
  }
  override toJSON(): Record<string, unknown> {
    return { name: this.name, op: this.op, code: this.code, message: this.winMessage };
  }
}

/** Bad input from the user: a name, a flag, a file. */
export class UsageError extends SvcdupError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** Well-known Win32 codes the control plane branches on. */
export const Win32 = {
  ERROR_FILE_NOT_FOUND: 2,
  ERROR_ACCESS_DENIED: 5,
  ERROR_INVALID_HANDLE: 6,
  ERROR_INVALID_DATA: 13,
  ERROR_INVALID_PARAMETER: 87,
  ERROR_SERVICE_ALREADY_RUNNING: 1056,
  ERROR_SERVICE_DATABASE_LOCKED: 1055,
  ERROR_SERVICE_REQUEST_TIMEOUT: 1053,
  ERROR_INTERNAL_ERROR: 1359,
  ERROR_SERVICE_DOES_NOT_EXIST: 1060,
  ERROR_SERVICE_CANNOT_ACCEPT_CTRL: 1061,
  ERROR_SERVICE_NOT_ACTIVE: 1062,
  ERROR_SERVICE_MARKED_FOR_DELETE: 1072,
  ERROR_SERVICE_EXISTS: 1073,
  ERROR_DUPLICATE_SERVICE_NAME: 1078,
} as const;
