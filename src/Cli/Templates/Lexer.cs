using System.Text;

namespace MiniDocker.Cli.Templates;

internal enum TokenKind
{
    Error, EOF, Text, LeftDelim, RightDelim, Space, Field, Variable, Identifier, Bool, Number, CharConstant,
    String, RawString, Pipe, LeftParen, RightParen, Declare, Assign, Char,
    // keywords
    Dot, Nil, If, Else, End, Range, With, Break, Continue, Define, Template, Block,
}

/// <param name="Pos">index of the token's first character in the template text</param>
internal readonly record struct Token(TokenKind Kind, int Pos, string Value, int Line)
{
    /// <summary>As Go's item.String(), for "unexpected X in Y" messages.</summary>
    public override string ToString() => Kind switch
    {
        TokenKind.EOF => "EOF",
        TokenKind.Error => Value,
        >= TokenKind.Dot => $"<{Value}>",
        _ when Value.Length > 10 => GoText.Quote(Value[..10]) + "...",
        _ => GoText.Quote(Value),
    };
}

/// <summary>
/// Splits a template into tokens as Go's text/template lexer does: text, and inside {{ }} the words of an action.
/// `{{- ` trims the white space before the action and ` -}}` the white space after it; `{{/* */}}` is a comment.
/// A lexing error ends the list with an Error token (the parser reports it with its line).
/// </summary>
internal static class Lexer
{
    private static readonly Dictionary<string, TokenKind> Keywords = new()
    {
        ["."] = TokenKind.Dot, ["nil"] = TokenKind.Nil, ["if"] = TokenKind.If, ["else"] = TokenKind.Else,
        ["end"] = TokenKind.End, ["range"] = TokenKind.Range, ["with"] = TokenKind.With, ["break"] = TokenKind.Break,
        ["continue"] = TokenKind.Continue, ["define"] = TokenKind.Define, ["template"] = TokenKind.Template,
        ["block"] = TokenKind.Block,
    };

    public static List<Token> Tokenize(string input)
    {
        var tokens = new List<Token>();
        int pos = 0;
        int line = 1;

        void Emit(TokenKind kind, int start, int end)
        {
            tokens.Add(new Token(kind, start, input[start..end], line));
            line += CountNewlines(input, start, end);
        }

        while (true)
        {
            // Text up to the next action.
            int open = input.IndexOf("{{", pos, StringComparison.Ordinal);
            if (open < 0)
            {
                if (pos < input.Length) Emit(TokenKind.Text, pos, input.Length);
                tokens.Add(new Token(TokenKind.EOF, input.Length, "", line));
                return tokens;
            }
            bool trimBefore = HasLeftTrimMarker(input, open + 2);
            int textEnd = open;
            if (trimBefore)
                while (textEnd > pos && IsSpace(input[textEnd - 1])) textEnd--;
            if (textEnd > pos) Emit(TokenKind.Text, pos, textEnd);
            line += CountNewlines(input, textEnd, open);
            int inside = open + 2 + (trimBefore ? 2 : 0);

            if (string.CompareOrdinal(input, inside, "/*", 0, 2) == 0)
            {
                int close = input.IndexOf("*/", inside + 2, StringComparison.Ordinal);
                if (close < 0) return Fail(tokens, "unclosed comment", open, line);
                int after = close + 2;
                int delim = RightDelimAt(input, after, out bool trimComment);
                if (delim < 0) return Fail(tokens, "comment ends before closing delimiter", open, line);
                line += CountNewlines(input, open, after + delim);
                pos = after + delim;
                if (trimComment) pos = SkipSpace(input, pos, ref line);
                continue;
            }

            Emit(TokenKind.LeftDelim, open, open + 2);
            line += CountNewlines(input, open + 2, inside);
            pos = inside;
            int parenDepth = 0;
            while (true)
            {
                int delim = RightDelimAt(input, pos, out bool trimAfter);
                if (delim >= 0)
                {
                    if (parenDepth > 0) return Fail(tokens, "unclosed left paren", pos, line);
                    int delimStart = pos + delim - 2;
                    line += CountNewlines(input, pos, delimStart);
                    Emit(TokenKind.RightDelim, delimStart, delimStart + 2);
                    pos = delimStart + 2;
                    if (trimAfter) pos = SkipSpace(input, pos, ref line);
                    break;
                }
                if (pos >= input.Length) return Fail(tokens, "unclosed action", pos, line);
                char c = input[pos];
                int start = pos;
                if (IsSpace(c))
                {
                    while (pos < input.Length && IsSpace(input[pos]) && RightDelimAt(input, pos, out _) < 0) pos++;
                    // The space before " -}}" belongs to the delimiter.
                    if (pos > start) Emit(TokenKind.Space, start, pos);
                    continue;
                }
                switch (c)
                {
                    case '=':
                        Emit(TokenKind.Assign, start, ++pos);
                        continue;
                    case ':':
                        if (pos + 1 >= input.Length || input[pos + 1] != '=') return Fail(tokens, "expected :=", pos, line);
                        pos += 2;
                        Emit(TokenKind.Declare, start, pos);
                        continue;
                    case '|':
                        Emit(TokenKind.Pipe, start, ++pos);
                        continue;
                    case '(':
                        parenDepth++;
                        Emit(TokenKind.LeftParen, start, ++pos);
                        continue;
                    case ')':
                        if (--parenDepth < 0) return Fail(tokens, "unexpected right paren", pos, line);
                        Emit(TokenKind.RightParen, start, ++pos);
                        continue;
                    case '"':
                    case '\'':
                        {
                            pos++;
                            while (true)
                            {
                                if (pos >= input.Length || input[pos] == '\n')
                                    return Fail(tokens, c == '"' ? "unterminated quoted string" : "unterminated character constant", start, line);
                                char q = input[pos++];
                                if (q == '\\')
                                {
                                    if (pos >= input.Length || input[pos] == '\n')
                                        return Fail(tokens, c == '"' ? "unterminated quoted string" : "unterminated character constant", start, line);
                                    pos++;
                                }
                                else if (q == c) break;
                            }
                            Emit(c == '"' ? TokenKind.String : TokenKind.CharConstant, start, pos);
                            continue;
                        }
                    case '`':
                        {
                            int close = input.IndexOf('`', pos + 1);
                            if (close < 0) return Fail(tokens, "unterminated raw quoted string", start, line);
                            pos = close + 1;
                            Emit(TokenKind.RawString, start, pos);
                            continue;
                        }
                    case '$':
                        {
                            pos++;
                            while (pos < input.Length && IsAlphaNumeric(input[pos])) pos++;
                            if (!AtTerminator(input, pos)) return Fail(tokens, $"bad character {GoText.CharName(input[pos])}", pos, line);
                            Emit(TokenKind.Variable, start, pos);
                            continue;
                        }
                    case '.' when pos + 1 >= input.Length || !char.IsAsciiDigit(input[pos + 1]):
                        {
                            pos++;
                            while (pos < input.Length && IsAlphaNumeric(input[pos])) pos++;
                            if (!AtTerminator(input, pos)) return Fail(tokens, $"bad character {GoText.CharName(input[pos])}", pos, line);
                            Emit(pos == start + 1 ? TokenKind.Dot : TokenKind.Field, start, pos);
                            continue;
                        }
                }
                if (c is '+' or '-' or '.' || char.IsAsciiDigit(c))
                {
                    if (!ScanNumber(input, ref pos))
                        return Fail(tokens, $"bad number syntax: {GoText.Quote(input[start..pos])}", start, line);
                    Emit(TokenKind.Number, start, pos);
                    continue;
                }
                if (IsAlphaNumeric(c))
                {
                    while (pos < input.Length && IsAlphaNumeric(input[pos])) pos++;
                    if (!AtTerminator(input, pos)) return Fail(tokens, $"bad character {GoText.CharName(input[pos])}", pos, line);
                    string word = input[start..pos];
                    var kind = Keywords.TryGetValue(word, out var k) ? k : word is "true" or "false" ? TokenKind.Bool : TokenKind.Identifier;
                    Emit(kind, start, pos);
                    continue;
                }
                if (c < 0x80 && !char.IsControl(c))
                {
                    Emit(TokenKind.Char, start, ++pos);
                    continue;
                }
                return Fail(tokens, $"unrecognized character in action: {GoText.CharName(c)}", pos, line);
            }
        }
    }

    private static List<Token> Fail(List<Token> tokens, string message, int pos, int line)
    {
        tokens.Add(new Token(TokenKind.Error, pos, message, line));
        return tokens;
    }

    private static int CountNewlines(string s, int start, int end)
    {
        int n = 0;
        for (int i = start; i < end; i++) if (s[i] == '\n') n++;
        return n;
    }

    internal static bool IsSpace(char c) => c is ' ' or '\t' or '\r' or '\n';

    private static bool IsAlphaNumeric(char c) => c == '_' || char.IsLetterOrDigit(c);

    private static bool HasLeftTrimMarker(string s, int i) => i + 1 < s.Length && s[i] == '-' && IsSpace(s[i + 1]);

    /// <summary>The length up to and including the right delimiter at <paramref name="i"/> ("}}" or " -}}"), or -1.</summary>
    private static int RightDelimAt(string s, int i, out bool trim)
    {
        trim = false;
        if (string.CompareOrdinal(s, i, "}}", 0, 2) == 0) return 2;
        if (i + 3 < s.Length && IsSpace(s[i]) && s[i + 1] == '-' && string.CompareOrdinal(s, i + 2, "}}", 0, 2) == 0)
        {
            trim = true;
            return 4;
        }
        return -1;
    }

    private static int SkipSpace(string s, int i, ref int line)
    {
        while (i < s.Length && IsSpace(s[i]))
        {
            if (s[i] == '\n') line++;
            i++;
        }
        return i;
    }

    private static bool AtTerminator(string s, int i) =>
        i >= s.Length || IsSpace(s[i]) || s[i] is '.' or ',' or '|' or ':' or ')' or '(' || string.CompareOrdinal(s, i, "}}", 0, 2) == 0;

    /// <summary>Go's scanNumber: sign, base prefix, digits (with _), fraction, exponent.</summary>
    private static bool ScanNumber(string s, ref int pos)
    {
        Accept(s, ref pos, "+-");
        string digits = "0123456789_";
        if (Accept(s, ref pos, "0"))
        {
            if (Accept(s, ref pos, "xX")) digits = "0123456789abcdefABCDEF_";
            else if (Accept(s, ref pos, "oO")) digits = "01234567_";
            else if (Accept(s, ref pos, "bB")) digits = "01_";
        }
        while (Accept(s, ref pos, digits)) { }
        if (Accept(s, ref pos, "."))
            while (Accept(s, ref pos, digits)) { }
        if (digits.Length == 11 && Accept(s, ref pos, "eE"))
        {
            Accept(s, ref pos, "+-");
            while (Accept(s, ref pos, "0123456789_")) { }
        }
        if (pos < s.Length && IsAlphaNumeric(s[pos]))
        {
            pos++;
            return false;
        }
        return true;
    }

    private static bool Accept(string s, ref int pos, string valid)
    {
        if (pos >= s.Length || !valid.Contains(s[pos])) return false;
        pos++;
        return true;
    }
}

/// <summary>Go's spelling of strings and characters in messages and in %q.</summary>
internal static class GoText
{
    /// <summary>strconv.Quote: printable characters as they are, the rest escaped.</summary>
    public static string Quote(string s, char quote = '"')
    {
        var sb = new StringBuilder(s.Length + 2).Append(quote);
        foreach (var rune in s.EnumerateRunes())
        {
            int r = rune.Value;
            switch (r)
            {
                case '\a': sb.Append("\\a"); continue;
                case '\b': sb.Append("\\b"); continue;
                case '\f': sb.Append("\\f"); continue;
                case '\n': sb.Append("\\n"); continue;
                case '\r': sb.Append("\\r"); continue;
                case '\t': sb.Append("\\t"); continue;
                case '\v': sb.Append("\\v"); continue;
                case '\\': sb.Append("\\\\"); continue;
            }
            if (r == quote) { sb.Append('\\').Append(quote); continue; }
            if (IsPrint(rune)) { sb.Append(rune.ToString()); continue; }
            if (r < 0x80) sb.Append("\\x").Append(r.ToString("x2"));
            else if (r < 0x10000) sb.Append("\\u").Append(r.ToString("x4"));
            else sb.Append("\\U").Append(r.ToString("x8"));
        }
        return sb.Append(quote).ToString();
    }

    private static bool IsPrint(Rune r)
    {
        if (r.Value == ' ') return true;
        var category = Rune.GetUnicodeCategory(r);
        return category switch
        {
            System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format
                or System.Globalization.UnicodeCategory.Surrogate or System.Globalization.UnicodeCategory.PrivateUse
                or System.Globalization.UnicodeCategory.OtherNotAssigned or System.Globalization.UnicodeCategory.LineSeparator
                or System.Globalization.UnicodeCategory.ParagraphSeparator or System.Globalization.UnicodeCategory.SpaceSeparator => false,
            _ => true,
        };
    }

    /// <summary>Go's %#U: U+0040 '@'.</summary>
    public static string CharName(char c) => char.IsControl(c) ? $"U+{(int)c:X4}" : $"U+{(int)c:X4} '{c}'";

    /// <summary>strconv.Unquote of a "..." or '...' literal (the lexer has checked its ends).</summary>
    public static string Unquote(string literal)
    {
        var sb = new StringBuilder(literal.Length);
        string body = literal[1..^1];
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (c != '\\') { sb.Append(c); continue; }
            if (++i >= body.Length) throw new FormatException();
            char e = body[i];
            switch (e)
            {
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case '\\': sb.Append('\\'); break;
                case '"' when literal[0] == '"': sb.Append('"'); break;
                case '\'' when literal[0] == '\'': sb.Append('\''); break;
                case 'x': sb.Append((char)Hex(body, ref i, 2)); break;
                case 'u': sb.Append(char.ConvertFromUtf32(Hex(body, ref i, 4))); break;
                case 'U': sb.Append(char.ConvertFromUtf32(Hex(body, ref i, 8))); break;
                case >= '0' and <= '7':
                    if (i + 2 >= body.Length) throw new FormatException();
                    int octal = Convert.ToInt32(body.Substring(i, 3), 8);
                    if (octal > 255) throw new FormatException();
                    sb.Append((char)octal);
                    i += 2;
                    break;
                default: throw new FormatException();
            }
        }
        return sb.ToString();
    }

    private static int Hex(string s, ref int i, int digits)
    {
        if (i + 1 + digits > s.Length) throw new FormatException();
        string hex = s.Substring(i + 1, digits);
        if (!int.TryParse(hex, System.Globalization.NumberStyles.AllowHexSpecifier, null, out int value) || value > 0x10FFFF)
            throw new FormatException();
        i += digits;
        return value;
    }
}
