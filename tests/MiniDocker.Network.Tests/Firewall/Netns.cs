using System.Diagnostics;

namespace MiniDocker.Network.Tests;

/// <summary>Runs a command and returns stdout; failure throws with the command and its stderr.</summary>
internal static class Sh
{
    public static string Run(string file, params string[] arguments) => Exec(file, arguments, check: true).Output;

    public static (int ExitCode, string Output, string Error) Try(string file, params string[] arguments) =>
        Exec(file, arguments, check: false);

    private static (int ExitCode, string Output, string Error) Exec(string file, string[] arguments, bool check)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish");
        }
        // Both streams are at EOF once the process has exited and its pipes are closed.
        var result = (process.ExitCode, output.GetAwaiter().GetResult(), error.GetAwaiter().GetResult());
        if (check && result.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({result.ExitCode}): {result.Item3.Trim()}");
        return result;
    }
}

/// <summary>A network namespace made for one test ("ip netns add"), deleted again when disposed.</summary>
internal sealed class Netns : IDisposable
{
    public Netns(string prefix)
    {
        Name = prefix + Guid.NewGuid().ToString("N")[..6];
        Sh.Run("ip", "netns", "add", Name);
        Run("ip", "link", "set", "lo", "up");
    }

    public string Name { get; }

    public string Path => $"/run/netns/{Name}";

    public string Run(params string[] command) => Sh.Run("ip", ["netns", "exec", Name, .. command]);

    public (int ExitCode, string Output, string Error) Try(params string[] command) => Sh.Try("ip", ["netns", "exec", Name, .. command]);

    // Deleting the namespace destroys its interfaces, routes and rules; veth peers in other namespaces go with them.
    public void Dispose() => Sh.Try("ip", "netns", "del", Name);
}
