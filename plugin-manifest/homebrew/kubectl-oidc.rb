# Homebrew formula for kubectl-oidc, written by `npm run release` (scripts/release.mjs): do not edit by hand.
# Install: brew install --formula ./kubectl-oidc.rb (or from a tap that carries this file).
class KubectlOidc < Formula
  desc "OIDC login for kubectl: an exec credential plugin and a per-user token agent"
  homepage "https://github.com/kubectl-oidc/kubectl-oidc"
  version "0.1.0"
  license "Apache-2.0"

  on_macos do
    on_arm do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_darwin_arm64.tar.gz"
      sha256 "41c3ba65c9f703c6f30cc33e44d566da1216c034f109ef245af065d4e7374a12"
    end
    on_intel do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_darwin_amd64.tar.gz"
      sha256 "f5f530cd4ff2ebafc5e3e2535a535bf2d3280e15784365a57b3567644f7f322f"
    end
  end

  on_linux do
    on_arm do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_linux_arm64.tar.gz"
      sha256 "308d696e4ed497f8f9cb3382e90bc1399275e5f5f664fceb3d704f4a2ba61d8d"
    end
    on_intel do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_linux_amd64.tar.gz"
      sha256 "d760dbf31e00f7f10bba1edc79539a83379ed59882376eddae7550b9d3f30456"
    end
  end

  def install
    libexec.install "kubectl-oidc", "keyring.node"
    bin.install_symlink libexec/"kubectl-oidc"
    doc.install "README.md", "THIRD-PARTY-NOTICES.md"
  end

  def caveats
    <<~EOS
      Add a kubeconfig user with `kubectl oidc setup`; its exec command is kubectl-oidc.
      `kubectl oidc agent install` starts the token agent at login.
    EOS
  end

  test do
    assert_equal "kubectl-oidc #{version}\n", shell_output("#{bin}/kubectl-oidc --version")
  end
end
