using System.Text.RegularExpressions;

namespace MiniDocker.Images;

/// <summary>A repository name and tag, as in <c>busybox:latest</c>.</summary>
public sealed partial record ImageReference(string Repository, string Tag)
{
    public const string DefaultTag = "latest";

    public override string ToString() => $"{Repository}:{Tag}";

    /// <summary>Parses NAME[:TAG] (NAME lower-case path components as in Docker; TAG defaults to latest).</summary>
    public static ImageReference Parse(string reference)
    {
        if (!TryParse(reference, out var parsed, out var problem))
            throw InvalidFormat(reference, problem);
        return parsed;
    }

    /// <summary>Docker's wording ("invalid reference format"), with what is wrong.</summary>
    public static ImageException InvalidFormat(string reference, string problem) =>
        new($"invalid reference format: \"{Display.Name(reference)}\": {problem}");

    public static bool TryParse(string reference, out ImageReference parsed, out string problem)
    {
        parsed = new ImageReference("", "");
        var colon = reference.LastIndexOf(':');
        var repository = colon < 0 ? reference : reference[..colon];
        var tag = colon < 0 ? DefaultTag : reference[(colon + 1)..];
        if (!RepositoryPattern().IsMatch(repository))
        {
            problem = "the name must be lower-case letters and digits, separated by '.', '_', '-' or '/'";
            return false;
        }
        if (FullIdPattern().IsMatch(repository))
        {
            // Docker forbids this too: such a name would shadow the image ID it looks like.
            problem = "a 64-character hex name is reserved for image IDs";
            return false;
        }
        if (repository == "sha256")
        {
            // "sha256:..." is how an image ID is written; Docker refuses the algorithm's name as a repository too.
            problem = "'sha256:' begins an image ID (sha256:<hex digits>), it cannot name a repository";
            return false;
        }
        if (!TagPattern().IsMatch(tag))
        {
            problem = "the tag must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'";
            return false;
        }
        parsed = new ImageReference(repository, tag);
        problem = "";
        return true;
    }

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex("^[a-f0-9]{64}$")]
    private static partial Regex FullIdPattern();
}
