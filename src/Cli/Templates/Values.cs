using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MiniDocker.Cli.Templates;

/// <summary>
/// The values a template works with. The data is a JSON tree (what every verb already prints for --format json);
/// while a template runs a value is one of: null (JSON null, Go's nil), string, long (a JSON integer, Go's int),
/// double, bool, JsonObject (a map), JsonArray or List&lt;object?&gt; (a list). Printing, truth and type names
/// follow Go's fmt and text/template, so output matches Docker's.
/// </summary>
internal static class Values
{
    /// <summary>A JSON node as a template value: containers stay nodes (read in place), scalars become CLR values.</summary>
    public static object? FromNode(JsonNode? node)
    {
        switch (node)
        {
            case null: return null;
            case JsonObject or JsonArray: return node;
        }
        var value = node.AsValue();
        switch (value.GetValueKind())
        {
            case JsonValueKind.String: return value.GetValue<string>();
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.Number:
                string text = value.ToJsonString();
                if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            default: return null;
        }
    }

    public static bool IsList(object? v, out IReadOnlyList<object?> items)
    {
        switch (v)
        {
            case JsonArray a:
                items = a.Select(FromNode).ToList();
                return true;
            case List<object?> l:
                items = l;
                return true;
            default:
                items = [];
                return false;
        }
    }

    /// <summary>Go's type of the value, as its messages name it (Docker's raw inspect data is map[string]interface {}).</summary>
    public static string TypeName(object? v) => v switch
    {
        null => "<nil>",
        string => "string",
        long => "int",
        double => "float64",
        bool => "bool",
        JsonObject => "map[string]interface {}",
        JsonArray => "[]interface {}",
        List<object?> => "[]string",
        _ => v.GetType().Name,
    };

    /// <summary>text/template's truth: false, 0, nil and empty strings, lists and maps are false.</summary>
    public static bool Truth(object? v) => v switch
    {
        null => false,
        bool b => b,
        string s => s.Length > 0,
        long l => l != 0,
        double d => d != 0,
        JsonObject o => o.Count > 0,
        JsonArray a => a.Count > 0,
        List<object?> l => l.Count > 0,
        _ => true,
    };

    /// <summary>fmt's %v: what {{.X}} prints. Maps print as map[k:v ...] with sorted keys, lists as [a b].</summary>
    public static string Print(object? v, bool nested = false)
    {
        var sb = new StringBuilder();
        Print(sb, v, nested);
        return sb.ToString();
    }

    private static void Print(StringBuilder sb, object? v, bool nested)
    {
        switch (v)
        {
            case null: sb.Append(nested ? "<nil>" : "<no value>"); return;
            case string s: sb.Append(s); return;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); return;
            case double d: sb.Append(FormatFloat(d)); return;
            case bool b: sb.Append(b ? "true" : "false"); return;
            case JsonObject o:
                sb.Append("map[");
                bool first = true;
                foreach (var (key, value) in o.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    if (!first) sb.Append(' ');
                    first = false;
                    sb.Append(key).Append(':');
                    Print(sb, FromNode(value), true);
                }
                sb.Append(']');
                return;
        }
        if (IsList(v, out var items))
        {
            sb.Append('[');
            for (int i = 0; i < items.Count; i++)
            {
                if (i > 0) sb.Append(' ');
                Print(sb, items[i], true);
            }
            sb.Append(']');
            return;
        }
        sb.Append(v);
    }

    /// <summary>Go's %v of a float64: the shortest form that reads back, in exponent form below 1e-4 or from
    /// 1e<paramref name="exponentFrom"/> (21 for %v, 6 for %g).</summary>
    public static string FormatFloat(double d, int exponentFrom = 21)
    {
        if (double.IsPositiveInfinity(d)) return "+Inf";
        if (double.IsNegativeInfinity(d)) return "-Inf";
        if (double.IsNaN(d)) return "NaN";
        if (d == 0) return double.IsNegative(d) ? "-0" : "0";
        // Shortest round trip: "R" gives the digits; the exponent is recomputed for Go's thresholds.
        string shortest = d.ToString("R", CultureInfo.InvariantCulture);
        string mantissa = shortest;
        int exponent = 0;
        int e = shortest.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            mantissa = shortest[..e];
            exponent = int.Parse(shortest[(e + 1)..], CultureInfo.InvariantCulture);
        }
        bool negative = mantissa.StartsWith('-');
        mantissa = mantissa.TrimStart('-');
        int dot = mantissa.IndexOf('.');
        string digits = dot < 0 ? mantissa : mantissa.Remove(dot, 1);
        int pointAt = (dot < 0 ? mantissa.Length : dot) + exponent; // digits before the decimal point
        int lead = digits.Length - digits.TrimStart('0').Length;
        digits = digits.TrimStart('0');
        pointAt -= lead;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) return "0";
        int exp10 = pointAt - 1;
        string result;
        if (exp10 < -4 || exp10 >= exponentFrom)
        {
            string frac = digits.Length > 1 ? "." + digits[1..] : "";
            result = $"{digits[0]}{frac}e{(exp10 < 0 ? '-' : '+')}{Math.Abs(exp10):00}";
        }
        else if (pointAt <= 0) result = "0." + new string('0', -pointAt) + digits;
        else if (pointAt >= digits.Length) result = digits + new string('0', pointAt - digits.Length);
        else result = digits[..pointAt] + "." + digits[pointAt..];
        return negative ? "-" + result : result;
    }

    /// <summary>Docker's `json` function: compact JSON, HTML characters not escaped.</summary>
    public static string Json(object? v)
    {
        using var ms = new MemoryStream();
        using (var writer = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            WriteJson(writer, v);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteJson(Utf8JsonWriter writer, object? v)
    {
        switch (v)
        {
            case null: writer.WriteNullValue(); return;
            case JsonNode node: node.WriteTo(writer); return;
            case string s: writer.WriteStringValue(s); return;
            case long l: writer.WriteNumberValue(l); return;
            case double d: writer.WriteNumberValue(d); return;
            case bool b: writer.WriteBooleanValue(b); return;
            case List<object?> list:
                writer.WriteStartArray();
                foreach (var item in list) WriteJson(writer, item);
                writer.WriteEndArray();
                return;
            default: writer.WriteStringValue(v.ToString()); return;
        }
    }
}
