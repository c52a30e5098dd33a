/** `backtrack help [config]`: the overview, or every config option (from the schema). */
import { envVariable, optionRows, referenceMarkdown } from '../config/reference.js';
import { bool, type Command } from './command.js';

/** Wrap text to `width` columns, every line indented by `indent`. */
function wrap(text: string, width: number, indent: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      out.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(indent + line);
  return out;
}

/** The reference for a terminal: grouped by section, each option with its variable, type and default, its meaning wrapped. */
export function referenceText(width = process.stdout.columns || 100): string {
  const w = Math.max(60, Math.min(width, 120));
  const out: string[] = ['Configuration options (file: YAML; environment: the variable shown; precedence flag > environment > file)', ''];
  let section = '';
  for (const r of optionRows()) {
    const top = r.option.split(/[.[]/)[0] as string;
    if (top !== section) {
      section = top;
      out.push(`${top}`, '');
    }
    if (r.type === 'object' || r.type === 'list of objects') {
      if (r.option !== top) out.push(`  ${r.option}  (${r.type})`);
      out.push(...wrap(r.description.replace(/`/g, ''), w, '      '), '');
      continue;
    }
    const type = r.type.replace(/\\\|/g, '|');
    out.push(`  ${r.option}  ${type}${r.default ? `  default ${r.default}` : ''}`);
    out.push(`      ${envVariable(r.option)}`);
    out.push(...wrap(r.description.replace(/`/g, ''), w, '      '), '');
  }
  return out.join('\n');
}

export const helpCommand: Command = {
  name: 'help',
  summary: 'this overview; "help config" lists every configuration option',
  usage: 'backtrack help [config [--markdown]]',
  options: { markdown: { type: 'boolean', description: 'help config as the Markdown table of the README' } },
  positionals: ['config'],
  needsConfig: false,
  async run(ctx) {
    if (ctx.positionals[0] === 'config') return { json: { reference: referenceMarkdown() }, text: bool(ctx, 'markdown') ? referenceMarkdown() : referenceText() };
    const { mainHelp } = await import('./main.js');
    return { json: { help: mainHelp() }, text: mainHelp() };
  },
};
