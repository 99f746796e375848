using System.Collections.Concurrent;
using System.Diagnostics;

namespace MiniDocker.IntegrationTests.Reliability;

/// <summary>
/// The suite's figures (cases per category, steps killed, corpus size, timings), kept up to date in $MINIDOCKER_RELIABILITY_REPORT (default out/reliability-report.md): the numbers docs/reliability.md quotes.
/// </summary>
public static class Report
{
    private static readonly ConcurrentDictionary<string, long> Counts = new();
    private static readonly ConcurrentDictionary<string, string> Figures = new();
    private static readonly Stopwatch Clock = Stopwatch.StartNew();

    private static readonly Lock Writing = new();

    // Rewritten at each update, not at exit: the test host may be ended before ProcessExit handlers finish.
    public static void Count(string what, long n = 1)
    {
        Counts.AddOrUpdate(what, n, (_, v) => v + n);
        Write();
    }

    public static void Figure(string what, string value)
    {
        Figures[what] = value;
        Write();
    }

    private static void Write()
    {
        using var _ = Writing.EnterScope();
        try
        {
            string path = Environment.GetEnvironmentVariable("MINIDOCKER_RELIABILITY_REPORT") is { Length: > 0 } p ? p
                : Path.Combine(Path.GetDirectoryName(MiniDocker.Binary)!, "reliability-report.md");
            var lines = new List<string> { $"# Reliability suite run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC", "",
                $"- suite time: {Clock.Elapsed.TotalSeconds:F0} s" };
            lines.AddRange(Counts.OrderBy(k => k.Key).Select(k => $"- {k.Key}: {k.Value}"));
            lines.AddRange(Figures.OrderBy(k => k.Key).Select(k => $"- {k.Key}: {k.Value}"));
            File.WriteAllLines(path, lines);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
