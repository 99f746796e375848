using System.Text;
using System.Text.Json;
using MiniDocker.Runtime.Native;

namespace MiniDocker.Runtime;

/// <summary>Reads a detached container's json-file log.</summary>
public static class ContainerLog
{
    public sealed record Line(string Stream, DateTimeOffset Time, string Text);

    public static string PathOf(ContainerStore store, string id) => Path.Combine(store.DirectoryOf(id), "container.log");

    public static IEnumerable<Line> Parse(IEnumerable<string> jsonLines)
    {
        foreach (var raw in jsonLines)
        {
            if (raw.Length == 0) continue;
            Line? line = null;
            try
            {
                using var doc = JsonDocument.Parse(raw);
                var r = doc.RootElement;
                line = new Line(r.GetProperty("stream").GetString() ?? "stdout",
                    r.GetProperty("time").GetDateTimeOffset(), r.GetProperty("log").GetString() ?? "");
            }
            catch (JsonException) { /* a line being written right now: skip */ }
            if (line is not null) yield return line;
        }
    }

    /// <summary>Writes the log to the given writers; with <paramref name="follow"/> keeps reading while
    /// <paramref name="stillRunning"/> says the container runs.</summary>
    public static void Copy(string path, int? tail, bool timestamps, bool follow, Func<bool> stillRunning,
        Stream stdout, Stream stderr)
    {
        if (!File.Exists(path)) return;
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(file);
        var first = new List<string>();
        while (reader.ReadLine() is { } l) first.Add(l);
        var lines = Parse(first).ToList();
        if (tail is int n && n >= 0) lines = lines.Skip(Math.Max(0, lines.Count - n)).ToList();
        foreach (var line in lines) Emit(line, timestamps, stdout, stderr);
        while (follow)
        {
            bool running = stillRunning();
            string? next;
            bool any = false;
            while ((next = reader.ReadLine()) is not null)
            {
                foreach (var line in Parse([next])) Emit(line, timestamps, stdout, stderr);
                any = true;
            }
            if (!running && !any) break;
            if (!any) Thread.Sleep(100);
        }
    }

    private static void Emit(Line line, bool timestamps, Stream stdout, Stream stderr)
    {
        var target = line.Stream == "stderr" ? stderr : stdout;
        string text = timestamps ? $"{line.Time.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffffffZ} {line.Text}" : line.Text;
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        target.Write(bytes);
        target.Flush();
    }
}

/// <summary>
/// Docker's json-file log entry: <c>{"log":"text\n","stream":"stdout","time":"2026-11-30T03:14:35.123456789Z"}</c>,
/// one per line. Written by hand rather than with System.Text.Json: the relay must stay small (see
/// <see cref="MonitorRelay"/>). Output that is not valid UTF-8 is logged with U+FFFD in place of the bad bytes, as
/// readers of the log expect valid JSON text.
/// </summary>
internal sealed class LogEntryWriter
{
    private byte[] _line = new byte[1024];

    public unsafe void Write(int log, string stream, ReadOnlySpan<byte> text)
    {
        ReadOnlySpan<byte> entry = Format(stream, text, DateTime.UtcNow);
        if (log < 0) return;
        // O_APPEND: the entry goes in with one write, so a reader never sees two entries interleaved.
        fixed (byte* p = entry)
        {
            for (int done = 0; done < entry.Length;)
            {
                nint n = Libc.write(log, p + done, entry.Length - done);
                if (n < 0 && Libc.Errno == Libc.EINTR) continue;
                if (n <= 0) return; // disk full or the like: the entry is lost, the container keeps running
                done += (int)n;
            }
        }
    }

    /// <summary>The entry as one line of UTF-8, newline included; valid until the next call.</summary>
    internal ReadOnlySpan<byte> Format(string stream, ReadOnlySpan<byte> text, DateTime utc)
    {
        var sb = new StringBuilder(text.Length + 80);
        sb.Append("{\"log\":\"");
        foreach (char c in Encoding.UTF8.GetString(text))
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case < ' ': sb.Append("\\u00").Append(Hex(c >> 4)).Append(Hex(c & 0xf)); break;
                default: sb.Append(c); break;
            }
        }
        sb.Append("\",\"stream\":\"").Append(stream).Append("\",\"time\":\"");
        AppendTime(sb, utc);
        sb.Append("\"}\n");
        string line = sb.ToString();
        int length = Encoding.UTF8.GetByteCount(line);
        if (length > _line.Length) _line = new byte[Math.Max(length, _line.Length * 2)];
        Encoding.UTF8.GetBytes(line, _line);
        return _line.AsSpan(0, length);
    }

    private static char Hex(int digit) => (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);

    /// <summary>RFC 3339 with 7 fractional digits (what DateTime holds), like "2026-11-30T03:14:35.1234567Z".</summary>
    internal static void AppendTime(StringBuilder sb, DateTime utc)
    {
        Digits(sb, utc.Year, 4).Append('-');
        Digits(sb, utc.Month, 2).Append('-');
        Digits(sb, utc.Day, 2).Append('T');
        Digits(sb, utc.Hour, 2).Append(':');
        Digits(sb, utc.Minute, 2).Append(':');
        Digits(sb, utc.Second, 2).Append('.');
        Digits(sb, (int)(utc.Ticks % TimeSpan.TicksPerSecond), 7).Append('Z');
    }

    private static StringBuilder Digits(StringBuilder sb, int value, int width)
    {
        Span<char> digits = stackalloc char[width];
        for (int i = width - 1; i >= 0; i--, value /= 10) digits[i] = (char)('0' + value % 10);
        return sb.Append(digits);
    }
}
