namespace MiniDocker.Cli.Templates;

/// <summary>A template that does not parse or fails while it runs, with Go's text/template wording
/// ("template: :1:2: executing "" at &lt;.Nope&gt;: map has no entry for key "Nope""), which Docker users know.</summary>
public sealed class TemplateException(string message) : MiniDocker.Linux.MiniDockerException(message);
