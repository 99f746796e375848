using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace MiniDocker.Cli.Templates;

/// <summary>
/// Go's fmt.Sprintf for the values a template has: verbs %v %s %q %d %x %X %o %b %c %U %e %f %g %t and %%, flags
/// - + # 0 and space, width and precision (also *). Mistakes print as Go prints them: %!d(string=abc),
/// %!s(MISSING), %!(EXTRA int=1).
/// </summary>
internal static class Printf
{
    private sealed class Spec
    {
        public bool Minus, Plus, Sharp, Zero, Space;
        public int? Width, Precision;
        public char Verb;
    }

    public static string Format(string format, IReadOnlyList<object?> args)
    {
        var sb = new StringBuilder();
        int next = 0;
        int i = 0;
        while (i < format.Length)
        {
            char c = format[i++];
            if (c != '%') { sb.Append(c); continue; }
            if (i >= format.Length) { sb.Append("%!(NOVERB)"); break; }
            var spec = new Spec();
            for (; i < format.Length; i++)
            {
                switch (format[i])
                {
                    case '-': spec.Minus = true; spec.Zero = false; continue;
                    case '+': spec.Plus = true; continue;
                    case '#': spec.Sharp = true; continue;
                    case '0': spec.Zero = !spec.Minus; continue;
                    case ' ': spec.Space = true; continue;
                }
                break;
            }
            spec.Width = Number(format, ref i, args, ref next, sb);
            if (spec.Width < 0) { spec.Minus = true; spec.Width = -spec.Width; }
            if (i < format.Length && format[i] == '.')
            {
                i++;
                spec.Precision = Number(format, ref i, args, ref next, sb) ?? 0;
                if (spec.Precision < 0) spec.Precision = null;
            }
            if (i >= format.Length) { sb.Append("%!(NOVERB)"); break; }
            spec.Verb = format[i++];
            if (spec.Verb == '%') { sb.Append('%'); continue; }
            if (next >= args.Count) { sb.Append("%!").Append(spec.Verb).Append("(MISSING)"); continue; }
            sb.Append(Pad(spec, FormatOne(spec, args[next++])));
        }
        if (next < args.Count)
        {
            sb.Append("%!(EXTRA ");
            sb.Append(string.Join(", ", args.Skip(next).Select(a => a is null ? "<nil>" : $"{Values.TypeName(a)}={Values.Print(a, true)}")));
            sb.Append(')');
        }
        return sb.ToString();
    }

    private static int? Number(string format, ref int i, IReadOnlyList<object?> args, ref int next, StringBuilder sb)
    {
        if (i < format.Length && format[i] == '*')
        {
            i++;
            if (next < args.Count && args[next] is long star) { next++; return (int)star; }
            next++;
            sb.Append("%!(BADWIDTH)");
            return null;
        }
        int start = i;
        while (i < format.Length && char.IsAsciiDigit(format[i])) i++;
        return i > start ? int.Parse(format[start..i], CultureInfo.InvariantCulture) : null;
    }

    private static string Pad(Spec spec, string s)
    {
        int width = spec.Width ?? 0;
        int length = s.EnumerateRunes().Count();
        if (length >= width) return s;
        if (spec.Minus) return s + new string(' ', width - length);
        if (spec.Zero && spec.Verb is not ('v' or 's' or 'q' or 't') && s.Length > 0 && s[0] is '-' or '+' or ' ')
            return s[0] + new string('0', width - length) + s[1..];
        return new string(spec.Zero ? '0' : ' ', width - length) + s;
    }

    private static string Bad(Spec spec, object? v) =>
        v is null ? $"%!{spec.Verb}(<nil>)" : $"%!{spec.Verb}({Values.TypeName(v)}={Values.Print(v, true)})";

    private static string FormatOne(Spec spec, object? v)
    {
        if (spec.Verb == 'T') return Values.TypeName(v);
        if (spec.Verb == 'v') return Values.Print(v, nested: true);
        if (v is JsonObject map) return FormatMap(spec, map);
        if (v is not string && Values.IsList(v, out var items))
            return "[" + string.Join(' ', items.Select(item => FormatOne(spec, item))) + "]";
        return v switch
        {
            string s => spec.Verb switch
            {
                's' => spec.Precision is { } p ? string.Concat(s.EnumerateRunes().Take(p).Select(r => r.ToString())) : s,
                'q' => spec.Sharp && !s.Contains('`') ? "`" + s + "`" : GoText.Quote(s),
                'x' => Convert.ToHexString(Encoding.UTF8.GetBytes(s)).ToLowerInvariant(),
                'X' => Convert.ToHexString(Encoding.UTF8.GetBytes(s)),
                _ => Bad(spec, v),
            },
            long l => spec.Verb switch
            {
                'd' => Signed(spec, l, l.ToString(CultureInfo.InvariantCulture).TrimStart('-')),
                'x' => Signed(spec, l, (spec.Sharp ? "0x" : "") + Math.Abs(l).ToString("x", CultureInfo.InvariantCulture)),
                'X' => Signed(spec, l, (spec.Sharp ? "0X" : "") + Math.Abs(l).ToString("X", CultureInfo.InvariantCulture)),
                'o' => Signed(spec, l, (spec.Sharp ? "0" : "") + Convert.ToString(Math.Abs(l), 8)),
                'O' => Signed(spec, l, "0o" + Convert.ToString(Math.Abs(l), 8)),
                'b' => Signed(spec, l, Convert.ToString(Math.Abs(l), 2)),
                'c' => l is >= 0 and <= 0x10FFFF ? char.ConvertFromUtf32((int)l) : "\uFFFD",
                'q' => l is >= 0 and <= 0x10FFFF ? GoText.Quote(char.ConvertFromUtf32((int)l), '\'') : "'\uFFFD'",
                'U' => $"U+{l:X4}",
                _ => Bad(spec, v),
            },
            double d => spec.Verb switch
            {
                'f' or 'F' => Signed(spec, d, Math.Abs(d).ToString("F" + (spec.Precision ?? 6), CultureInfo.InvariantCulture)),
                'e' or 'E' => Signed(spec, d, Exponent(Math.Abs(d), spec.Precision ?? 6, spec.Verb)),
                'g' or 'G' => Signed(spec, d, spec.Precision is { } p
                    ? General(Math.Abs(d), p, spec.Verb) : Values.FormatFloat(Math.Abs(d), exponentFrom: 6)),
                _ => Bad(spec, v),
            },
            bool b => spec.Verb == 't' ? (b ? "true" : "false") : Bad(spec, v),
            _ => Bad(spec, v),
        };
    }

    private static string FormatMap(Spec spec, JsonObject map) =>
        "map[" + string.Join(' ', map.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => FormatOne(spec, kv.Key) + ":" + FormatOne(spec, Values.FromNode(kv.Value)))) + "]";

    private static string Signed(Spec spec, double value, string digits) =>
        (double.IsNegative(value) && value != 0 ? "-" : spec.Plus ? "+" : spec.Space ? " " : "") + digits;

    /// <summary>%e: one digit, a point, the precision's digits, and an exponent of at least two digits.</summary>
    private static string Exponent(double d, int precision, char verb)
    {
        string s = d.ToString((verb == 'E' ? "E" : "e") + precision, CultureInfo.InvariantCulture);
        int e = s.IndexOfAny(['e', 'E']);
        string mantissa = s[..e];
        int exponent = int.Parse(s[(e + 1)..], CultureInfo.InvariantCulture);
        return $"{mantissa}{s[e]}{(exponent < 0 ? '-' : '+')}{Math.Abs(exponent):00}";
    }

    /// <summary>%.Ng: N significant digits, in exponent form when the exponent is below -4 or at least N.</summary>
    private static string General(double d, int precision, char verb)
    {
        if (precision == 0) precision = 1;
        if (d == 0) return "0";
        int exponent = (int)Math.Floor(Math.Log10(d));
        double rounded = double.Parse(d.ToString("E" + (precision - 1), CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        if (rounded != 0) exponent = (int)Math.Floor(Math.Log10(rounded));
        if (exponent < -4 || exponent >= precision)
        {
            string s = Exponent(rounded, precision - 1, verb == 'G' ? 'E' : 'e');
            int e = s.IndexOfAny(['e', 'E']);
            string mantissa = s[..e];
            if (mantissa.Contains('.')) mantissa = mantissa.TrimEnd('0').TrimEnd('.');
            return mantissa + s[e..];
        }
        string f = rounded.ToString("F" + Math.Max(0, precision - 1 - exponent), CultureInfo.InvariantCulture);
        return f.Contains('.') ? f.TrimEnd('0').TrimEnd('.') : f;
    }
}
