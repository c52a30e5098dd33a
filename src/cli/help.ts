/** `backtrack help [config]`: the overview, or every config option (from the schema). */
import { referenceMarkdown } from '../config/reference.js';
import type { Command } from './command.js';

export const helpCommand: Command = {
  name: 'help',
  summary: 'this overview; "help config" lists every configuration option',
  usage: 'backtrack help [config]',
  options: {},
  positionals: ['config'],
  needsConfig: false,
  async run(ctx) {
    if (ctx.positionals[0] === 'config') return { json: { reference: referenceMarkdown() }, text: referenceMarkdown() };
    const { mainHelp } = await import('./main.js');
    return { json: { help: mainHelp() }, text: mainHelp() };
  },
};
