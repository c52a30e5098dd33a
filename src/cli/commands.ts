/** Every command, in the order help lists them. */
import type { Command } from './command.js';
import { auditCommand } from './audit.js';
import { backupCommand } from './backup.js';
import { daemonCommand } from './daemon.js';
import { pruneCommand } from './prune.js';
import { binlogCommand } from './binlog.js';
import { checkCommand } from './check.js';
import { findCommand } from './find.js';
import { healthCommand } from './health.js';
import { undoCommand } from './undo.js';
import { helpCommand } from './help.js';
import { listCommand } from './list.js';
import { restoreCommand } from './restore.js';
import { verifyCommand } from './verify.js';

export const COMMANDS: Command[] = [daemonCommand, backupCommand, listCommand, verifyCommand, restoreCommand, findCommand, undoCommand, binlogCommand, pruneCommand, auditCommand, checkCommand, healthCommand, helpCommand];
