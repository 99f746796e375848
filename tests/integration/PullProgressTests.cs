using System.Diagnostics;
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// What `pull` prints, from a docker-registry on loopback: without a terminal Docker's lines exactly (one per layer, in
/// the manifest's order, then Digest, Status and the reference); on a terminal (a pty made by script(1)) per-layer lines
/// redrawn in place with cursor moves, whose final screen is checked after replaying the escapes.
/// </summary>
public sealed class PullProgressTests : IDisposable
{
    private readonly MiniDocker _md = new(importBusybox: false);
    private readonly LocalRegistry _registry = new();
    private readonly OciLayout _layout = new();

    public void Dispose()
    {
        _md.Dispose();
        _registry.Dispose();
        _layout.Dispose();
    }

    /// <summary>A layer holding one file of random bytes (incompressible: its blob is about as large).</summary>
    public static TestLayer RandomLayer(string name, int bytes, string compression = "gzip")
    {
        using var memory = new MemoryStream();
        using (var writer = new TarWriter(memory, TarEntryFormat.Pax, leaveOpen: true))
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"data/{name}")
            { Mode = (UnixFileMode)0x1A4, DataStream = new MemoryStream(RandomNumberGenerator.GetBytes(bytes)) });
        return OciLayout.Layer(memory.ToArray(), compression);
    }

    private (string Reference, string ManifestDigest, TestLayer[] Layers) Push(string name, params TestLayer[] layers)
    {
        var manifest = _layout.Image(layers, OciLayout.HostArchitecture, new JsonObject { ["Cmd"] = new JsonArray("true") });
        _layout.Tag(name, manifest);
        _registry.Push(_layout, name, name);
        return ($"{_registry.Host}/{name}:{name}", (string)manifest["digest"]!, layers);
    }

    private static string Short(TestLayer layer) => layer.Digest[7..19];

    [Fact]
    public void Without_a_terminal_pull_prints_one_line_per_layer_in_order_then_Docker_final_lines()
    {
        // The first layer is the largest, so with parallel downloads it finishes last; its line still comes first.
        var (reference, digest, layers) = Push("lines", RandomLayer("big", 3 << 20), RandomLayer("a", 1000, "none"),
            RandomLayer("b", 2000, "zstd"), RandomLayer("c", 3000), RandomLayer("d", 4000));
        var pull = _md.Run("pull", reference);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Equal(
            $"lines: Pulling from lines\n" +
            string.Concat(layers.Select(l => $"{Short(l)}: Pull complete\n")) +
            $"Digest: {digest}\n" +
            $"Status: Downloaded newer image for {reference}\n" +
            $"{reference}\n", pull.Stdout);
        Assert.Equal("", pull.Stderr);

        // Again: nothing to fetch, and Docker's lines for that.
        var again = _md.Run("pull", reference);
        Assert.Equal($"lines: Pulling from lines\nDigest: {digest}\nStatus: Image is up to date for {reference}\n{reference}\n", again.Stdout);

        // An image sharing the first two layers: those exist, the third is fetched.
        var third = RandomLayer("e", 5000);
        var (other, otherDigest, _) = Push("shared", layers[0], layers[1], third);
        var shared = _md.Run("pull", other);
        Assert.Equal(
            $"shared: Pulling from shared\n{Short(layers[0])}: Already exists\n{Short(layers[1])}: Already exists\n" +
            $"{Short(third)}: Pull complete\nDigest: {otherDigest}\nStatus: Downloaded newer image for {other}\n{other}\n", shared.Stdout);

        // -q prints the reference only; a pull by digest names the digest.
        Assert.Equal($"{reference}\n", _md.Run("pull", "-q", reference).Stdout);
        var pinned = $"{_registry.Host}/lines@{digest}";
        Assert.Equal($"{digest}: Pulling from lines\nDigest: {digest}\nStatus: Image is up to date for {pinned}\n{pinned}\n",
            _md.Run("pull", pinned).Stdout);
    }

    [Fact]
    public void On_a_terminal_pull_draws_per_layer_progress_bars_in_place()
    {
        var (reference, digest, layers) = Push("tty", RandomLayer("big", 4 << 20), RandomLayer("a", 1 << 20), RandomLayer("b", 2000, "zstd"));
        // script(1) gives the pull a pseudo-terminal; stty makes it 150 columns wide, wide enough for Docker's bars.
        var psi = new ProcessStartInfo("script", ["-qec", $"stty cols 150 rows 40; exec {MiniDocker.Binary} --root {_md.Root} pull {reference}", "/dev/null"])
        { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var raw = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000));
        Assert.True(p.ExitCode == 0, raw + p.StandardError.ReadToEnd());

        // Bars were drawn (Docker's layout: 50 columns of '=' ending in '>', then current/total) and lines were
        // rewritten in place: cursor up N, erase the line, cursor down N.
        Assert.Matches($@"{Short(layers[0])}: Downloading \[=*> *\] +[0-9.]+[kM]?B/4\.[0-9]+MB", raw);
        Assert.Contains("\x1b[2K", raw);
        Assert.Matches(@"\x1b\[[1-3]A", raw);

        var screen = Screen.Render(raw);
        Assert.Equal(
            [$"tty: Pulling from tty", .. layers.Select(l => $"{Short(l)}: Pull complete"), $"Digest: {digest}",
             $"Status: Downloaded newer image for {reference}", reference],
            screen);
    }

    /// <summary>Replays what a terminal does with text, CR, LF and the CSI sequences pull uses (A, B, K).</summary>
    private static class Screen
    {
        public static List<string> Render(string output)
        {
            var lines = new List<StringBuilder> { new() };
            int row = 0, col = 0;
            for (var i = 0; i < output.Length; i++)
            {
                var c = output[i];
                if (c == '\x1b' && i + 1 < output.Length && output[i + 1] != '[')
                {
                    i++; // a two-character escape (ESC =, keypad mode): no effect on the text
                    continue;
                }
                if (c == '\x1b' && i + 1 < output.Length)
                {
                    var end = i + 2;
                    while (end < output.Length && (char.IsDigit(output[end]) || output[end] is ';' or '?')) end++;
                    var arg = output[(i + 2)..end];
                    var n = int.TryParse(arg, out var v) ? v : 1;
                    switch (output[end])
                    {
                        case 'A': row = Math.Max(0, row - n); break;
                        case 'B': row += n; break;
                        case 'K': if (row < lines.Count) lines[row].Length = Math.Min(lines[row].Length, n == 2 ? 0 : col); break;
                        default: break; // modes (ESC[?1h) and the like: no effect on the text
                    }
                    i = end;
                    continue;
                }
                while (lines.Count <= row) lines.Add(new StringBuilder());
                switch (c)
                {
                    case '\r': col = 0; break;
                    case '\n': row++; col = 0; break;
                    default:
                        var line = lines[row];
                        if (col < line.Length) line[col] = c; else line.Append(c);
                        col++;
                        break;
                }
            }
            return lines.Select(l => l.ToString()).Where(l => l.Length > 0).ToList();
        }
    }
}
