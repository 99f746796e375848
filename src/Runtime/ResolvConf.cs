namespace MiniDocker.Runtime;

/// <summary>The container's /etc/resolv.conf: the host's, without loopback resolvers (127.0.0.53 of
/// systemd-resolved means nothing inside another network namespace), like Docker.</summary>
public static class ResolvConf
{
    public static string FromHost(string path = "/etc/resolv.conf")
    {
        string text = File.Exists(path) ? File.ReadAllText(path) : "";
        return Filter(text);
    }

    public static string Filter(string text)
    {
        var lines = text.Split('\n')
            .Where(l => !(l.TrimStart().StartsWith("nameserver", StringComparison.Ordinal) &&
                          (l.Contains(" 127.", StringComparison.Ordinal) || l.Contains(" ::1", StringComparison.Ordinal))))
            .ToList();
        return string.Join('\n', lines).TrimEnd('\n') + "\n";
    }
}
