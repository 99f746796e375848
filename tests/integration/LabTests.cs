using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// Runs each lab of docs/labs in order, as a reader would type it: its ```sh blocks in one bash session, each
/// ```text block after one of them checked against that block's output (lines in order, each a substring of an
/// output line, "..." standing for anything, spaces collapsed). The lab's own defaults (P=${P:-lab}, NET=...)
/// are replaced by a prefix and subnets of this run, in the commands (through the environment) and in the
/// expected outputs. The lab's ```sh cleanup block runs again afterwards, also when the lab failed.
/// </summary>
public sealed partial class LabTests
{
    private sealed record Step(string Commands, string? Expected, bool Cleanup);

    private static string LabsDir
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MiniDocker.sln"))) dir = dir.Parent;
            return Path.Combine(dir!.FullName, "docs", "labs");
        }
    }

    private static List<Step> Parse(string markdown)
    {
        var steps = new List<Step>();
        foreach (Match m in FencedBlock().Matches(markdown))
        {
            string language = m.Groups[1].Value, info = m.Groups[2].Value, body = m.Groups[3].Value;
            if (language == "sh") steps.Add(new Step(body, null, info.Contains("cleanup", StringComparison.Ordinal)));
            else if (language == "text" && steps.Count > 0 && steps[^1].Expected is null) steps[^1] = steps[^1] with { Expected = body };
        }
        return steps;
    }

    [Theory]
    [InlineData("01-veth.md")]
    [InlineData("02-bridge.md")]
    [InlineData("03-routing.md")]
    [InlineData("04-nat.md")]
    [InlineData("05-minidocker.md")]
    [InlineData("06-macvlan.md")]
    public void Lab_runs_as_written_and_leaves_nothing(string file)
    {
        var steps = Parse(File.ReadAllText(Path.Combine(LabsDir, file)));
        Assert.True(steps.Count >= 3, $"{file}: too few command blocks");
        var cleanup = steps.SingleOrDefault(s => s.Cleanup) ?? throw new Xunit.Sdk.XunitException($"{file} has no ```sh cleanup block");
        // The first block names everything the lab makes: VAR=${VAR:-DEFAULT}.
        var defaults = DefaultOf().Matches(steps[0].Commands).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.True(defaults.ContainsKey("P"), $"{file}: the first block must define P=${{P:-...}}");

        string prefix = "l" + Guid.NewGuid().ToString("N")[..4];
        var env = new Dictionary<string, string>
        {
            ["P"] = prefix,
            ["NET"] = $"10.{Random.Shared.Next(200, 250)}.{Random.Shared.Next(1, 255)}",
            ["UP"] = $"100.{Random.Shared.Next(64, 128)}.{Random.Shared.Next(1, 255)}",
            ["HOSTPORT"] = HostPorts.Free().ToString(),
            ["ROOT"] = Path.Combine(Path.GetTempPath(), $"mdk-lab-{prefix}"),
            ["MINIDOCKER"] = MiniDocker.Binary,
            ["BUSYBOX_TAR"] = MiniDocker.BusyboxTar,
        };
        try
        {
            var script = new StringBuilder("exec 2>&1\n");
            for (int i = 0; i < steps.Count; i++) script.Append($"echo '@@BLOCK {i}'\n{steps[i].Commands}\n");
            string output = Bash(script.ToString(), env, TimeSpan.FromMinutes(4));
            var outputs = new Dictionary<int, string>();
            var parts = BlockMarker().Split(output);
            for (int i = 1; i + 1 < parts.Length; i += 2) outputs[int.Parse(parts[i])] = parts[i + 1];
            for (int i = 0; i < steps.Count; i++)
            {
                if (steps[i].Expected is not { } expected) continue;
                foreach (var (name, value) in defaults)
                    if (env.TryGetValue(name, out var mine) && value.Length > 0) expected = expected.Replace(value, mine);
                AssertShows(file, i, steps[i].Commands, expected, outputs.GetValueOrDefault(i, ""));
            }
        }
        finally
        {
            // The names block again (for $H, $MD...), then the clean-up, whatever happened above.
            Bash(steps[0].Commands + "\n" + cleanup.Commands, env, TimeSpan.FromMinutes(1));
            if (Directory.Exists(env["ROOT"])) Directory.Delete(env["ROOT"], recursive: true);
            MiniDocker.SweepCgroups(env["ROOT"]);
        }
        Assert.DoesNotContain(Sh.Run("ip", "netns", "list").Split('\n'), l => l.StartsWith(prefix, StringComparison.Ordinal));
        Assert.DoesNotContain(prefix, Sh.Run("ip", "-br", "link"));
        Assert.DoesNotContain(prefix, Sh.Try("iptables-save").Out);
    }

    private static void AssertShows(string file, int block, string commands, string expected, string actual)
    {
        var lines = actual.Split('\n').Select(Collapse).ToList();
        int at = 0;
        foreach (var wanted in expected.Split('\n').Select(Collapse).Where(l => l.Length > 0))
        {
            // "a ... b" also matches "a b": the spaces around "..." belong to the wildcard.
            var pattern = new Regex(string.Join(".*", wanted.Split("...").Select(part => Regex.Escape(part.Trim()))));
            while (at < lines.Count && !pattern.IsMatch(lines[at])) at++;
            if (at == lines.Count)
                throw new Xunit.Sdk.XunitException($"{file}, block {block}: expected a line like\n  {wanted}\nafter the lines before it, in the output of\n{commands}\n--- output:\n{actual}");
            at++;
        }
    }

    private static string Collapse(string line) => Spaces().Replace(line, " ").Trim();

    private static string Bash(string script, IReadOnlyDictionary<string, string> env, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (k, v) in env) start.Environment[k] = v;
        start.Environment["LC_ALL"] = "C";
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(script);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"lab script did not finish within {timeout}: {stdout.Result}");
        }
        return stdout.Result + stderr.Result;
    }

    [GeneratedRegex(@"^```(\S*)([^\n]*)\n(.*?)^```$", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex FencedBlock();

    [GeneratedRegex(@"^(\w+)=\$\{\1:-([^}]*)\}", RegexOptions.Multiline)]
    private static partial Regex DefaultOf();

    [GeneratedRegex(@"^@@BLOCK (\d+)\n", RegexOptions.Multiline)]
    private static partial Regex BlockMarker();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
