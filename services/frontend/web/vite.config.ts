import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the app with hot reload and forwards API calls to a running stack's
// edge (`scripts/stack up`; IRONSMITH_EDGE overrides the address).
const edge = process.env.IRONSMITH_EDGE ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      "/api": edge,
      "/status": edge,
    },
  },
});
