namespace MiniDocker.Images.Registry;

/// <summary>A WWW-Authenticate challenge: <c>Bearer realm="...",service="...",scope="..."</c> or <c>Basic realm="..."</c>.</summary>
public sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public string? Realm => Parameters.GetValueOrDefault("realm");
    public string? Service => Parameters.GetValueOrDefault("service");
    public string? Scope => Parameters.GetValueOrDefault("scope");

    /// <summary>Parses one challenge (RFC 7235 auth-params: token=token or token="quoted \" string", comma separated).</summary>
    public static AuthChallenge? Parse(string header)
    {
        var text = header.Trim();
        var space = text.IndexOf(' ');
        var scheme = space < 0 ? text : text[..space];
        if (scheme.Length == 0)
            return null;
        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = space < 0 ? text.Length : space + 1;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ' ' || text[i] == ','))
                i++;
            var eq = text.IndexOf('=', i);
            if (eq < 0)
                break;
            var key = text[i..eq].Trim();
            i = eq + 1;
            var value = new System.Text.StringBuilder();
            if (i < text.Length && text[i] == '"')
            {
                i++;
                while (i < text.Length && text[i] != '"')
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                        i++;
                    value.Append(text[i++]);
                }
                i++; // closing quote
            }
            else
            {
                while (i < text.Length && text[i] != ',')
                    value.Append(text[i++]);
            }
            if (key.Length > 0)
                parameters[key] = value.ToString().Trim();
        }
        return new AuthChallenge(scheme, parameters);
    }
}
