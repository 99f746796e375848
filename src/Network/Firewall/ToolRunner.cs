using System.Diagnostics;
using System.Text.RegularExpressions;
using MiniDocker.Netlink;

namespace MiniDocker.Network;

/// <summary>
/// Runs iptables/nft as child processes, optionally inside another network namespace via nsenter (tests run the
/// firewall in a throwaway namespace). This is the host side of MiniDocker, never between fork and exec of a
/// container, so System.Diagnostics.Process is safe to use here.
/// </summary>
internal sealed partial class ToolRunner
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // Root's PATH may lack the sbin directories (e.g. under sudo or a minimal service environment).
    private static readonly string[] ExtraSearchPath = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

    private readonly string? _netnsPath;

    public ToolRunner(string? netnsPath) => _netnsPath = netnsPath;

    public static string? Find(string tool)
    {
        IEnumerable<string> directories = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(ExtraSearchPath);
        return directories.Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);
    }

    /// <summary>Runs the tool and returns its stdout; a non-zero exit becomes one NetworkException line with stderr.</summary>
    public string Run(string tool, IReadOnlyList<string> arguments, string? input = null) =>
        Run(tool, arguments, input, commits: 0);

    /// <summary>
    /// Runs a tool that applies <paramref name="input"/> to nf_tables in <paramref name="commits"/> transactions
    /// (iptables-nft-restore: one per COMMIT; nft -f: one), and returns as soon as the kernel has announced them
    /// all, without waiting for the tool to exit (see <see cref="NfTablesCommitWatch"/> for why that exit is late
    /// after deletions). Its stdout is then not read. Without the announcements (iptables-legacy, a tool that
    /// failed, an overflowing queue) it waits for the exit and checks the status like <see cref="Run(string, IReadOnlyList{string}, string?)"/>.
    /// </summary>
    public string RunCommits(string tool, IReadOnlyList<string> arguments, string input, int commits) =>
        Run(tool, arguments, input, commits);

    private string Run(string tool, IReadOnlyList<string> arguments, string? input, int commits)
    {
        (int exitCode, string output, string error) = RunUnchecked(tool, arguments, input, commits);
        if (exitCode != 0)
            throw Failure(tool, error, input);
        return output;
    }

    /// <summary>The exception for a tool that exited non-zero: "TOOL failed: " and its stderr made into one line.</summary>
    public static NetworkException Failure(string tool, string error, string? input = null) =>
        new($"{tool} failed: {Summarize(error, input)}");

    public (int ExitCode, string Output, string Error) RunUnchecked(string tool, IReadOnlyList<string> arguments, string? input = null) =>
        RunUnchecked(tool, arguments, input, commits: 0);

    private (int ExitCode, string Output, string Error) RunUnchecked(string tool, IReadOnlyList<string> arguments, string? input, int commits)
    {
        string path = Find(tool) ?? throw new NetworkException($"{tool} not found: is it installed?");
        var start = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (_netnsPath is null)
        {
            start.FileName = path;
        }
        else
        {
            start.FileName = Find("nsenter") ?? throw new NetworkException("nsenter not found: is util-linux installed?");
            start.ArgumentList.Add($"--net={_netnsPath}");
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(path);
        }
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        // Tools must answer in English so that error summaries and "No such file" checks read the same everywhere.
        start.Environment["LC_ALL"] = "C";

        // Listening starts before the tool does, so that no announcement of its commits can come first.
        using NfTablesCommitWatch? watch = commits > 0 ? OpenCommitWatch() : null;
        Process process = Process.Start(start) ?? throw new NetworkException($"{tool}: could not start {start.FileName}");
        watch?.Follow(process.Id); // before the tool has its input, so before it can have finished
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        try
        {
            if (input is not null)
                process.StandardInput.Write(input);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // EPIPE: the tool exited before reading its script (e.g. nsenter could not enter the namespace);
            // its exit status and stderr below say why.
        }
        if (watch is not null && watch.WaitForCommits(commits, Timeout))
        {
            // Committed: the rules are in force (or gone). The tool is still closing its socket; the runtime's
            // SIGCHLD handling reaps it when it exits, and the Process is disposed then.
            _ = process.WaitForExitAsync().ContinueWith(_ => process.Dispose(), TaskScheduler.Default);
            return (0, "", "");
        }
        using (process)
        {
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new NetworkException($"{tool} did not finish within {Timeout.TotalSeconds:0} s (is another process holding the xtables lock?)");
            }
            return (process.ExitCode, output.Result, error.Result);
        }
    }

    private NfTablesCommitWatch? OpenCommitWatch()
    {
        try
        {
            return NfTablesCommitWatch.Open(_netnsPath);
        }
        catch (NetlinkException)
        {
            return null; // no nf_tables (iptables-legacy only), or not allowed to listen: wait for the exit instead
        }
    }

    /// <summary>
    /// Makes one line out of a tool's stderr: drops iptables' version banner and nft's caret markers, and when the
    /// tool points at "line N" of the script we fed it, quotes that line, which the tool itself does not.
    /// </summary>
    private static string Summarize(string error, string? input)
    {
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !BannerRegex().IsMatch(l) && !l.All(c => c is '^' or ' '))
            .ToArray();
        string summary = lines.Length == 0 ? "(no error output)" : string.Join("; ", lines);
        if (input is not null && LineRegex().Match(summary) is { Success: true } match)
        {
            string[] script = input.Split('\n');
            int number = int.Parse(match.Groups[1].Value);
            if (number >= 1 && number <= script.Length && !summary.Contains(script[number - 1].Trim(), StringComparison.Ordinal))
                summary += $" (line {number}: \"{script[number - 1].Trim()}\")";
        }
        return summary;
    }

    [GeneratedRegex(@"^\S+ v[0-9.]+ \([^)]*\):$")]
    private static partial Regex BannerRegex();

    [GeneratedRegex(@"\bline (\d+)")]
    private static partial Regex LineRegex();
}
