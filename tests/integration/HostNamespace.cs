using System.Diagnostics;

namespace MiniDocker.IntegrationTests;

/// <summary>Runs a host tool and returns its output; throws with stderr when it fails.</summary>
public static class Sh
{
    public static (int Code, string Out, string Err) Try(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    public static string Run(string file, params string[] args)
    {
        var (code, output, err) = Try(file, args);
        if (code != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: {err}");
        return output;
    }
}

/// <summary>
/// A simulated upstream host ("wan"): a network namespace joined to the host by a veth pair on a /30 of
/// 198.51.100.0/24 (TEST-NET-2), so outbound NAT and published ports can be proven without any traffic leaving
/// the machine. Removed on dispose.
/// </summary>
public sealed class WanNamespace : IDisposable
{
    public string Name { get; } = "mdkwan-" + Guid.NewGuid().ToString("N")[..6];
    public string HostLink { get; }
    public string HostAddress { get; }
    public string WanAddress { get; }
    private readonly List<Process> _servers = new();

    public WanNamespace()
    {
        int block = Random.Shared.Next(64) * 4;
        HostAddress = $"198.51.100.{block + 1}";
        WanAddress = $"198.51.100.{block + 2}";
        HostLink = "mdkw" + Name[^6..];
        Sh.Run("ip", "netns", "add", Name);
        try
        {
            Sh.Run("ip", "link", "add", HostLink, "type", "veth", "peer", "name", "wan0", "netns", Name);
            Sh.Run("ip", "addr", "add", HostAddress + "/30", "dev", HostLink);
            Sh.Run("ip", "link", "set", HostLink, "up");
            Exec("ip", "addr", "add", WanAddress + "/30", "dev", "wan0");
            Exec("ip", "link", "set", "wan0", "up");
            Exec("ip", "link", "set", "lo", "up");
            Exec("ip", "route", "add", "default", "via", HostAddress);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Exec(params string[] args) => Sh.Run("ip", ["netns", "exec", Name, .. args]);
    public (int Code, string Out, string Err) TryExec(params string[] args) => Sh.Try("ip", ["netns", "exec", Name, .. args]);

    /// <summary>busybox httpd on WanAddress:port serving a CGI that answers with the client address it sees.</summary>
    public void ServeRemoteAddr(int port)
    {
        string dir = Path.Combine(Path.GetTempPath(), Name);
        Directory.CreateDirectory(Path.Combine(dir, "cgi-bin"));
        string cgi = Path.Combine(dir, "cgi-bin", "ip");
        File.WriteAllText(cgi, "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"$REMOTE_ADDR\"\n");
        File.SetUnixFileMode(cgi, (UnixFileMode)0x1ED);
        var psi = new ProcessStartInfo("ip", ["netns", "exec", Name, "busybox", "httpd", "-f", "-p", $"{WanAddress}:{port}", "-h", dir]);
        _servers.Add(Process.Start(psi)!);
        Thread.Sleep(200);
    }

    public void Dispose()
    {
        foreach (var s in _servers) { try { s.Kill(); s.WaitForExit(); } catch (InvalidOperationException) { } }
        Sh.Try("ip", "link", "del", HostLink);
        Sh.Try("ip", "netns", "del", Name);
        try { Directory.Delete(Path.Combine(Path.GetTempPath(), Name), true); } catch (IOException) { }
    }
}
