// Public door of @steer/presets: steering presets saved as .steer files, bound to the SAE they were made for.
export {
  DEFAULT_PRESETS_DIR,
  PRESET_NAME_PATTERN,
  FolderPresetStore,
  listPresets,
  removePreset,
  savePreset,
  showPreset,
  type PresetDetails,
  type PresetSummary,
  type SavePresetOptions,
  type SaveResult,
} from './preset-folder.js';
export { PresetError, type PresetErrorCode } from './errors.js';
