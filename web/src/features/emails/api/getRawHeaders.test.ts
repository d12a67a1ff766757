import { parseHeaders } from './getRawHeaders';

describe('parseHeaders', () => {
  it('reads the header section in order, joining folded lines, and stops at the body', () => {
    const raw = [
      'From: Your styling team <styling@engage.localhost>',
      'To: Ada <ada@example.com>',
      'Subject: =?utf-8?q?Welcome=2C_Ada?=',
      'List-Unsubscribe: <https://engage.example.com/u/abc>,',
      ' <mailto:unsubscribe+abc@engage.localhost>',
      '',
      'Body: not a header',
    ].join('\r\n');
    expect(parseHeaders(raw)).toEqual([
      { name: 'From', value: 'Your styling team <styling@engage.localhost>' },
      { name: 'To', value: 'Ada <ada@example.com>' },
      { name: 'Subject', value: '=?utf-8?q?Welcome=2C_Ada?=' },
      {
        name: 'List-Unsubscribe',
        value: '<https://engage.example.com/u/abc>, <mailto:unsubscribe+abc@engage.localhost>',
      },
    ]);
  });
});
