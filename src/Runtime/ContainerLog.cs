using System.Text.Json;

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
