using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace MiniDocker.Cli.Templates;

/// <summary>A function's own failure: reported as Go does, "error calling NAME: MESSAGE".</summary>
internal sealed class FunctionException(string message) : Exception(message);

/// <summary>An argument of the wrong type: reported as Go does, "wrong type for value; expected string; got int".</summary>
/// <param name="index">which argument (0 is the first after the function's name)</param>
internal sealed class ArgumentTypeException(string message, int index) : Exception(message)
{
    public int Index { get; } = index;
}

/// <param name="Min">fewest arguments</param>
/// <param name="Max">most arguments, or -1 for any number</param>
internal sealed record TemplateFunction(int Min, int Max, Func<IReadOnlyList<object?>, object?> Call);

/// <summary>
/// The functions a template can call: Go's builtins (and, or, not, len, index, slice, print, printf, println,
/// eq, ne, lt, le, gt, ge) and Docker's (json, split, join, title, lower, upper, pad, truncate).
/// `and` and `or` are evaluated lazily by the executor, as Go does; they are listed here for the parser.
/// </summary>
internal static class Functions
{
    public static readonly IReadOnlyDictionary<string, TemplateFunction> Standard = new Dictionary<string, TemplateFunction>
    {
        ["and"] = new(1, -1, _ => null),
        ["or"] = new(1, -1, _ => null),
        ["not"] = new(1, 1, a => !Values.Truth(a[0])),
        ["len"] = new(1, 1, a => Length(a[0])),
        ["index"] = new(1, -1, a => Index(a[0], a.Skip(1).ToList())),
        ["slice"] = new(1, 4, a => Slice(a[0], a.Skip(1).ToList())),
        ["print"] = new(0, -1, a => Sprint(a)),
        ["println"] = new(0, -1, a => string.Join(' ', a.Select(v => Values.Print(v, nested: true))) + "\n"),
        ["printf"] = new(1, -1, a => Printf.Format(String(a, 0), a.Skip(1).ToList())),
        ["eq"] = new(1, -1, a => a.Count < 2 ? throw new FunctionException("missing argument for comparison")
            : a.Skip(1).Any(b => Equal(a[0], b))),
        ["ne"] = new(2, 2, a => !Equal(a[0], a[1])),
        ["lt"] = new(2, 2, a => Compare(a[0], a[1]) < 0),
        ["le"] = new(2, 2, a => Compare(a[0], a[1]) <= 0),
        ["gt"] = new(2, 2, a => Compare(a[0], a[1]) > 0),
        ["ge"] = new(2, 2, a => Compare(a[0], a[1]) >= 0),
        ["json"] = new(1, 1, a => Values.Json(a[0])),
        ["split"] = new(2, 2, a => Split(String(a, 0), String(a, 1))),
        ["join"] = new(2, 2, a => Join(a, String(a, 1))),
        ["title"] = new(1, 1, a => Title(String(a, 0))),
        ["lower"] = new(1, 1, a => String(a, 0).ToLowerInvariant()),
        ["upper"] = new(1, 1, a => String(a, 0).ToUpperInvariant()),
        ["pad"] = new(3, 3, a => String(a, 0) is { Length: > 0 } s
            ? new string(' ', (int)Int(a, 1)) + s + new string(' ', (int)Int(a, 2)) : ""),
        ["truncate"] = new(2, 2, a => Truncate(String(a, 0), Int(a, 1))),
    };

    /// <summary>Docker's header functions: a table's header row is the same template run over the column names, with
    /// the functions that would change a name (json, split, join, title, lower, upper, truncate) leaving it as it is.</summary>
    public static readonly IReadOnlyDictionary<string, TemplateFunction> Header = new Dictionary<string, TemplateFunction>(Standard)
    {
        ["json"] = new(1, 1, a => String(a, 0)),
        ["split"] = new(2, 2, a => String(a, 0)),
        ["join"] = new(2, 2, a => String(a, 0)),
        ["title"] = new(1, 1, a => String(a, 0)),
        ["lower"] = new(1, 1, a => String(a, 0)),
        ["upper"] = new(1, 1, a => String(a, 0)),
        ["truncate"] = new(2, 2, a => String(a, 0)),
    };

    public static readonly ISet<string> Names = Standard.Keys.ToHashSet();

    private static string String(IReadOnlyList<object?> args, int i) =>
        args[i] as string ?? throw new ArgumentTypeException($"wrong type for value; expected string; got {Values.TypeName(args[i])}", i);

    private static long Int(IReadOnlyList<object?> args, int i) => args[i] switch
    {
        long l => l,
        double d when d == Math.Floor(d) && Math.Abs(d) < 9.2e18 => (long)d,
        var v => throw new ArgumentTypeException($"wrong type for value; expected int; got {Values.TypeName(v)}", i),
    };

    private static long Length(object? v) => v switch
    {
        null => throw new FunctionException("len of nil pointer"),
        string s => Encoding.UTF8.GetByteCount(s), // Go's len of a string counts bytes
        JsonObject o => o.Count,
        _ when Values.IsList(v, out var items) => items.Count,
        _ => throw new FunctionException($"len of type {Values.TypeName(v)}"),
    };

    private static object? Index(object? item, List<object?> indices)
    {
        if (item is null) throw new FunctionException("index of untyped nil");
        foreach (var index in indices)
        {
            switch (item)
            {
                case JsonObject o:
                    if (index is not string key) throw new FunctionException($"value has type {Values.TypeName(index)}; should be string");
                    item = o.TryGetPropertyValue(key, out var child) ? Values.FromNode(child) : null;
                    break;
                case string s:
                    {
                        var bytes = Encoding.UTF8.GetBytes(s);
                        long i = IndexValue(index, "string");
                        if (i < 0 || i >= bytes.Length) throw new FunctionException($"index out of range: {i}");
                        item = (long)bytes[i];
                        break;
                    }
                case null:
                    throw new FunctionException("index of untyped nil");
                default:
                    if (!Values.IsList(item, out var items)) throw new FunctionException($"can't index item of type {Values.TypeName(item)}");
                    long n = IndexValue(index, "slice/array");
                    if (n < 0 || n >= items.Count) throw new FunctionException($"index out of range: {n}");
                    item = items[(int)n];
                    break;
            }
        }
        return item;
    }

    private static long IndexValue(object? index, string what) => index switch
    {
        long l => l,
        null => throw new FunctionException($"cannot index {what} with nil"),
        _ => throw new FunctionException($"cannot index {what} with type {Values.TypeName(index)}"),
    };

    private static object? Slice(object? item, List<object?> indices)
    {
        if (item is null) throw new FunctionException("slice of untyped nil");
        int length = item is string str ? str.Length : Values.IsList(item, out var list) ? list.Count
            : throw new FunctionException($"can't slice item of type {Values.TypeName(item)}");
        if (item is string && indices.Count > 2) throw new FunctionException("cannot 3-index slice a string");
        var bounds = new long[] { 0, length, length };
        for (int i = 0; i < indices.Count; i++)
        {
            long b = IndexValue(indices[i], "slice/array");
            if (b < 0 || b > length) throw new FunctionException($"index out of range: {b}");
            bounds[i] = b;
        }
        if (bounds[0] > bounds[1]) throw new FunctionException($"invalid slice index: {bounds[0]} > {bounds[1]}");
        if (item is string s) return s[(int)bounds[0]..(int)bounds[1]];
        Values.IsList(item, out var items);
        return items.Skip((int)bounds[0]).Take((int)(bounds[1] - bounds[0])).ToList();
    }

    /// <summary>fmt.Sprint: a space between two operands when neither is a string.</summary>
    private static string Sprint(IReadOnlyList<object?> args)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < args.Count; i++)
        {
            if (i > 0 && args[i] is not string && args[i - 1] is not string) sb.Append(' ');
            sb.Append(Values.Print(args[i], nested: true));
        }
        return sb.ToString();
    }

    private static List<object?> Split(string s, string separator)
    {
        if (separator.Length == 0) return s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList();
        return s.Split(separator).Select(p => (object?)p).ToList();
    }

    private static string Join(IReadOnlyList<object?> args, string separator)
    {
        if (!Values.IsList(args[0], out var items))
            throw new ArgumentTypeException($"wrong type for value; expected []string; got {Values.TypeName(args[0])}", 0);
        return string.Join(separator, items.Select(i => Values.Print(i, nested: true)));
    }

    /// <summary>Go's strings.Title: the first letter of each word in upper case, the rest unchanged.</summary>
    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        var previous = new Rune(' ');
        foreach (var r in s.EnumerateRunes())
        {
            sb.Append(IsSeparator(previous) ? Rune.ToUpperInvariant(r).ToString() : r.ToString());
            previous = r;
        }
        return sb.ToString();

        static bool IsSeparator(Rune r)
        {
            if (r.IsAscii) return !(Rune.IsLetterOrDigit(r) || r.Value == '_');
            return !Rune.IsLetterOrDigit(r) && Rune.IsWhiteSpace(r);
        }
    }

    private static string Truncate(string s, long length) =>
        s.Length < length ? s : s[..(int)Math.Max(0, length)];

    private static bool IsNumber(object? v) => v is long or double;

    private static bool Equal(object? a, object? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b)) return a is long la && b is long lb ? la == lb : ToDouble(a) == ToDouble(b);
        if (a is JsonObject || b is JsonObject || Values.IsList(a, out _) || Values.IsList(b, out _))
            throw new FunctionException($"non-comparable type {Values.TypeName(a is JsonObject || Values.IsList(a, out _) ? a : b)}");
        if (a.GetType() != b.GetType()) throw new FunctionException("incompatible types for comparison");
        return a.Equals(b);
    }

    private static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
            return a is long la && b is long lb ? la.CompareTo(lb) : ToDouble(a).CompareTo(ToDouble(b));
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb);
        if (a is null || b is null || a is bool || b is bool || a is JsonObject || b is JsonObject
            || Values.IsList(a, out _) || Values.IsList(b, out _))
            throw new FunctionException("invalid type for comparison");
        throw new FunctionException("incompatible types for comparison");
    }

    private static double ToDouble(object? v) => v is long l ? l : Convert.ToDouble(v, CultureInfo.InvariantCulture);
}
