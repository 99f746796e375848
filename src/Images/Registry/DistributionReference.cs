using System.Text.RegularExpressions;

namespace MiniDocker.Images.Registry;

/// <summary>
/// An image reference as Docker normalizes it: <c>busybox</c> is <c>docker.io/library/busybox:latest</c>,
/// <c>host:port/repo:tag</c> names another registry, <c>NAME@sha256:HEX</c> pins a manifest digest.
/// </summary>
public sealed partial record DistributionReference(string Domain, string Path, string? Tag, string? Digest)
{
    public const string DockerHub = "docker.io";

    /// <summary>The name Docker shows: without <c>docker.io/</c> and, for official images, <c>library/</c>.</summary>
    public string FamiliarRepository =>
        Domain != DockerHub ? $"{Domain}/{Path}"
        : Path.StartsWith("library/", StringComparison.Ordinal) && Path.IndexOf('/', 8) < 0 ? Path[8..] : Path;

    /// <summary>The tag, latest when neither a tag nor a digest was given.</summary>
    public string TagOrLatest => Tag ?? ImageReference.DefaultTag;

    /// <summary>What the registry is asked for: the digest when pinned, else the tag.</summary>
    public string ManifestReference => Digest ?? TagOrLatest;

    /// <summary>busybox:latest, or busybox@sha256:... for a pinned reference (Docker's familiar string).</summary>
    public string Familiar => Digest is null ? $"{FamiliarRepository}:{TagOrLatest}"
        : Tag is null ? $"{FamiliarRepository}@{Digest}" : $"{FamiliarRepository}:{Tag}@{Digest}";

    public override string ToString() =>
        $"{Domain}/{Path}" + (Tag is null ? "" : $":{Tag}") + (Digest is null ? (Tag is null ? ":latest" : "") : $"@{Digest}");

    public static DistributionReference Parse(string reference)
    {
        if (!TryParse(reference, out var parsed, out var problem))
            throw ImageReference.InvalidFormat(reference, problem);
        return parsed;
    }

    public static bool TryParse(string reference, out DistributionReference parsed, out string problem)
    {
        parsed = new DistributionReference("", "", null, null);
        string? digest = null;
        var at = reference.IndexOf('@');
        var name = reference;
        if (at >= 0)
        {
            digest = reference[(at + 1)..];
            name = reference[..at];
            if (!DigestPattern().IsMatch(digest))
            {
                problem = "a digest is sha256: and 64 lower-case hex digits";
                return false;
            }
        }
        string? tag = null;
        var colon = name.LastIndexOf(':');
        if (colon >= 0 && name.IndexOf('/', colon) < 0)
        {
            tag = name[(colon + 1)..];
            name = name[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                problem = "the tag must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'";
                return false;
            }
        }

        var slash = name.IndexOf('/');
        string domain = DockerHub;
        var path = name;
        if (slash > 0)
        {
            var first = name[..slash];
            if (first.Contains('.') || first.Contains(':') || first == "localhost" || first.Any(char.IsAsciiLetterUpper))
            {
                if (!DomainPattern().IsMatch(first))
                {
                    problem = $"'{first}' is not a valid registry host[:port]";
                    return false;
                }
                domain = first;
                path = name[(slash + 1)..];
            }
        }
        if (domain == "index.docker.io")
            domain = DockerHub;
        if (!PathPattern().IsMatch(path))
        {
            problem = "the name must be lower-case letters and digits, separated by '.', '_', '-' or '/'";
            return false;
        }
        if (name.Length > 255)
        {
            problem = "the repository name must not be longer than 255 characters";
            return false;
        }
        if (domain == DockerHub && !path.Contains('/'))
            path = "library/" + path;
        parsed = new DistributionReference(domain, path, tag, digest);
        problem = "";
        return true;
    }

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex PathPattern();

    [GeneratedRegex(@"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$")]
    private static partial Regex DomainPattern();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex("^sha256:[a-f0-9]{64}$")]
    internal static partial Regex DigestPattern();
}
