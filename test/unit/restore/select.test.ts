import { describe, expect, it } from 'vitest';
import { parseRename, parseSelector } from '../../../src/restore/select.js';
import { keepUnqualified, renameDatabase } from '../../../src/engines/mysqldump/load-tables.js';

const matches = (sel: string, schema: string, table?: string) => {
  const s = parseSelector(sel);
  return s.schema.test(schema) && (table === undefined ? s.table === undefined : s.table?.test(table) === true);
};

describe('--only selectors', () => {
  it('take a schema, a table, and globs', () => {
    expect(matches('shop', 'shop')).toBe(true);
    expect(matches('shop', 'shopping')).toBe(false);
    expect(matches('shop.orders', 'shop', 'orders')).toBe(true);
    expect(matches('shop.order?', 'shop', 'orders')).toBe(true);
    expect(matches('sh*.*', 'shop', 'anything')).toBe(true);
    expect(matches('shop.o*', 'shop', 'customers')).toBe(false);
  });
  it('take backtick-quoted parts literally, dots, stars and doubled backticks included', () => {
    expect(matches('`odd.name`.`t*1`', 'odd.name', 't*1')).toBe(true);
    expect(matches('`odd.name`.`t*1`', 'odd.name', 't21')).toBe(false);
    expect(matches('`a``b`', 'a`b')).toBe(true);
    expect(matches('`x`.t*', 'x', 'tab')).toBe(true);
    expect(matches('shop.a+b', 'shop', 'a+b')).toBe(true);
    expect(matches('shop.a+b', 'shop', 'aab')).toBe(false);
  });
  it('refuse empty parts, three parts and unclosed quotes', () => {
    expect(() => parseSelector('.t')).toThrow(/empty name/);
    expect(() => parseSelector('shop.')).toThrow(/empty name/);
    expect(() => parseSelector('a.b.c')).toThrow(/more than two parts/);
    expect(() => parseSelector('`shop')).toThrow(/unclosed backtick/);
  });
});

describe('--rename', () => {
  it('takes OLD:NEW and refuses anything else', () => {
    expect(parseRename('shop:shop_restored')).toEqual({ from: 'shop', to: 'shop_restored' });
    expect(() => parseRename('shop')).toThrow(/OLD:NEW/);
    expect(() => parseRename('shop:shop')).toThrow(/to itself/);
    expect(() => parseRename('shop:s*')).toThrow(/not a schema name/);
    expect(() => parseRename(`shop:${'x'.repeat(65)}`)).toThrow(/not a schema name/);
  });
  it('points CREATE DATABASE and USE at the new name, and nothing else', () => {
    const sql = 'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\nUSE `shop`;\nINSERT INTO t VALUES (\'USE `shop`;\');\n';
    expect(renameDatabase(Buffer.from(sql), 'shop', 'sh`op2').toString()).toBe(
      'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `sh``op2` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\nUSE `sh``op2`;\nINSERT INTO t VALUES (\'USE `shop`;\');\n',
    );
  });
  it('leaves out a trigger or routine that names the old schema, and drops such a view', () => {
    const post = [
      'USE `shop`;',
      'DELIMITER ;;',
      '/*!50003 CREATE*/ /*!50003 trigger shop.t1 AFTER INSERT ON orders FOR EACH ROW SET @x = 1 */;;',
      'DELIMITER ;',
      'DELIMITER ;;',
      '/*!50003 CREATE*/ /*!50003 trigger t2 AFTER INSERT ON orders FOR EACH ROW SET @x = 2 */;;',
      'DELIMITER ;',
      '--',
      '-- Final view structure for view `v`',
      '--',
      '/*!50001 DROP VIEW IF EXISTS `v`*/;',
      '/*!50001 VIEW `v` AS select `shop`.`orders`.`id` AS `id` from `shop`.`orders` */;',
      '--',
      '-- Dumping routines for database \'shop\'',
      'DELIMITER ;;',
      'CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()',
      'select count(*) from shopping.t',
      ';;',
      'DELIMITER ;',
    ].join('\n');
    const r = keepUnqualified(post, 'shop', 'shop2');
    expect(r.dropped).toEqual([
      expect.stringMatching(/^trigger shop.t1 of shop2 was not created: its definition names shop explicitly/),
      expect.stringMatching(/^view v of shop2 was not created/),
    ]);
    expect(r.text).toMatch(/trigger t2/);
    expect(r.text).not.toMatch(/trigger shop.t1/);
    expect(r.text).toMatch(/DROP VIEW IF EXISTS `v`;/);
    expect(r.text).not.toMatch(/VIEW `v` AS/);
    expect(r.text).toMatch(/PROCEDURE `p`/);
  });
});
