using System.Diagnostics;
using System.Security.Cryptography;

namespace MiniDocker.Netlink.Tests;

/// <summary>A throwaway named network namespace (mdktest-XXXXXXXX), deleted on Dispose.</summary>
internal sealed class TestNetns : IDisposable
{
    private TestNetns(string name)
    {
        Name = name;
    }

    public string Name { get; }

    public string Path => $"/run/netns/{Name}";

    /// <summary>
    /// Runs <paramref name="body"/> with a fresh namespace, deletes it even when the body fails, and then checks
    /// that `ip netns list` no longer shows it.
    /// </summary>
    public static void With(Action<TestNetns> body)
    {
        string name;
        using (var netns = new TestNetns($"mdktest-{Suffix(4)}"))
        {
            name = netns.Name;
            Shell.Run("ip", "netns", "add", name);
            body(netns);
        }
        Assert.DoesNotContain(name, Shell.Run("ip", "netns", "list"));
    }

    /// <summary>Random lowercase hex, 2 characters per byte, for names that must fit IFNAMSIZ.</summary>
    public static string Suffix(int bytes) => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(bytes));

    public string Exec(params string[] command) => Shell.Run("ip", ["netns", "exec", Name, .. command]);

    public void Dispose() => Shell.TryRun("ip", "netns", "delete", Name);
}

internal static class Shell
{
    public static string Run(string file, params string[] arguments)
    {
        var (exitCode, output, error) = TryRun(file, arguments);
        if (exitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {exitCode}: {error}{output}");
        return output;
    }

    public static (int ExitCode, string Output, string Error) TryRun(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.Result);
    }
}
