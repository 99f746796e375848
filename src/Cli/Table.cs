namespace MiniDocker.Cli;

/// <summary>Docker-style column output: headers in capitals, columns three spaces apart.</summary>
public sealed class Table(params string[] headers)
{
    private readonly List<string[]> _rows = new();

    public void Add(params string[] cells) => _rows.Add(cells);

    public void Print(TextWriter? output = null)
    {
        output ??= Console.Out;
        var widths = headers.Select((h, i) => Math.Max(h.Length, _rows.Count == 0 ? 0 : _rows.Max(r => r[i].Length))).ToArray();
        foreach (var row in _rows.Prepend(headers))
            output.WriteLine(string.Join("   ", row.Select((c, i) => i == row.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd());
    }
}
