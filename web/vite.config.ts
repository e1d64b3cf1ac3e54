import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// In development the UI runs on :3000 and Vite forwards /api to the api, so the app always
// uses same-origin relative URLs, exactly as when the api serves the built files.
const api = process.env.MINICHAT_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    port: 3000,
    proxy: { "/api": { target: api, changeOrigin: true } },
  },
  build: { outDir: "dist", sourcemap: true, chunkSizeWarningLimit: 1200 },
});
